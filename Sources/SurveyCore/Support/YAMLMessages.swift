/// libyaml's problems (English sentences) in Chinese, with what usually
/// causes each, for answer files and forms; English as libyaml says it.
enum YAMLMessages {
    static let known: [(english: String, chinese: String)] = [
        ("found character that cannot start any token", "这里的字符不能作为开头(常见原因:用了 Tab 缩进,或 @、`、% 等字符没有加引号)"),
        ("mapping values are not allowed", "此处不能出现“键: 值”(常见原因:值里有没加引号的冒号,或缩进不对)"),
        ("did not find expected key", "没有找到应有的键(常见原因:同一层的缩进不一致)"),
        ("could not find expected ':'", "缺少冒号“:”"),
        ("found unexpected end of stream", "文件意外结束(引号或括号没有闭合?)"),
        ("found a tab character", "缩进里有 Tab 字符,请改用空格"),
        ("did not find expected node content", "这里缺少内容"),
        ("found unknown escape character", "引号内有无法识别的转义字符(反斜杠 \\ 后面的字符)"),
        ("did not find expected ',' or ']'", "缺少“,”或“]”"),
        ("did not find expected ',' or '}'", "缺少“,”或“}”"),
        ("block sequence entries are not allowed", "此处不能出现列表项“- ”(缩进不对?)"),
        ("did not find expected '-' indicator", "缺少列表项的“- ”(缩进不对?)"),
        ("found undefined tag handle", "未定义的标签(以 ! 开头的内容)"),
        ("found unexpected ':'", "多余的冒号“:”"),
        ("could not find expected", "缺少应有的符号"),
        ("control characters are not allowed", "文件里有控制字符(不可见字符),请删除"),
        ("invalid leading UTF-8 octet", "文件不是 UTF-8 编码(可能是 GBK);请另存为 UTF-8"),
        ("incomplete UTF-8 octet sequence", "文件不是 UTF-8 编码(可能是 GBK);请另存为 UTF-8"),
    ]

    /// A problem as a person reads it in `language`'s message: Chinese
    /// when the problem is one libyaml is known to say, else as it is.
    static func describe(_ problem: String) -> LocalizedText {
        let match = known.first { problem.lowercased().contains($0.english.lowercased()) }
        return L(match?.chinese ?? "无法读取(\(problem))", problem)
    }
}
