"""XLSForm workbooks for the importer's tests, written by openpyxl as a
spreadsheet program would write them, and pyxform's reading of them.

    python xlsforms.py make DIR      writes the test workbooks and CSV files
    python xlsforms.py pyxform FILE  prints pyxform's parsed survey as JSON
"""
import datetime
import json
import sys


def sheet(workbook, name, rows, first=False):
    ws = workbook.active if first else workbook.create_sheet(name)
    ws.title = name
    for row in rows:
        ws.append(row)
    return ws


ZH = "::Chinese (zh)"
EN = "::English (en)"


def full(path):
    """Every column and type the importer reads, with translations,
    groups, a repeat, cascading and file-backed selects."""
    import openpyxl

    wb = openpyxl.Workbook()
    header = [
        "type", "name", "label" + ZH, "label" + EN, "hint" + ZH, "hint" + EN, "required", "required_message" + ZH,
        "required_message" + EN, "relevant", "constraint", "constraint_message" + ZH, "constraint_message" + EN,
        "calculation", "default", "read_only", "choice_filter", "repeat_count", "appearance", "parameters",
    ]

    def row(type_, name, zh="", en="", **columns):
        values = {"type": type_, "name": name, "label" + ZH: zh, "label" + EN: en}
        for key, value in columns.items():
            key = key.replace("_zh", ZH).replace("_en", EN)
            values[key] = value
        return [values.get(column, None) for column in header]

    rows = [
        header,
        row("note", "intro", "请按本年度实际情况填写。", "Answer for this year."),
        row("begin group", "basic", "基本情况", "Basic information"),
        row("select_one township", "township", "乡镇", "Township", required="yes"),
        row("select_one village", "village", "村", "Village", required="yes", choice_filter="township=${township}"),
        row("date", "survey_date", "调查日期", "Date of the survey", required="yes", default=datetime.datetime(2026, 11, 20)),
        row("acknowledge", "consent", "已告知填报人调查用途", "The informant was told what the survey is for", required="yes"),
        row("end group", None),
        row("begin group", "members", "党员", "Members"),
        row("integer", "members_total", "党员总数", "Members in total", hint_zh="单位:人", hint_en="In persons", required="yes",
            constraint=". >= 0 and . <= 10000", constraint_message_zh="党员总数应在 0 到 10000 之间",
            constraint_message_en="Members must be between 0 and 10000"),
        row("integer", "members_women", "女党员", "Women members", required="${members_total} > 0",
            required_message_zh="有党员时须填女党员数", required_message_en="Give the women when there are members",
            constraint=". <= ${members_total}", constraint_message_zh="女党员不能多于党员总数",
            constraint_message_en="Women cannot outnumber all members"),
        row("decimal", "income", "集体收入(万元)", "Collective income (10,000 yuan)", relevant="${members_total} > 0",
            appearance="thousands-sep"),
        row("select_multiple sources", "sources", "收入来源", "Sources of income", parameters="randomize=true"),
        row("select_one_from_file villages.csv", "leader_village", "书记所在村", "The secretary's village",
            choice_filter="township=${township}"),
        row("select_multiple_from_file skills.csv", "skills", "书记的技能", "The secretary's skills"),
        row("text", "origin", "填报单位", "Filed by", read_only="yes", default="县委组织部"),
        row("text", "remark", "备注", "Remarks"),
        row("end group", None),
        row("begin repeat", "cadres", "村干部", "Village cadres", repeat_count=2),
        row("text", "cadre_name", "姓名", "Name", required="yes"),
        row("integer", "cadre_birth_year", "出生年份", "Year of birth", constraint=". >= 1940 and . <= 2008"),
        row("select_one yes_no", "cadre_party", "是否党员", "Party member?"),
        row("calculate", "cadre_number", calculation="position(..)"),
        row("end repeat", None),
        row("calculate", "first_cadre", calculation="indexed-repeat(${cadre_name}, ${cadres}, 1)"),
        row("calculate", "record_key", calculation="once(uuid())"),
        row("calculate", "township_name", calculation="jr:choice-name(${township}, '${township}')"),
        row("calculate", "remark_head", calculation="substring-before(concat(${remark}, ' '), ' ')"),
        row("calculate", "source_count", calculation="count-selected(${sources})"),
    ]
    sheet(wb, "survey", rows, first=True)
    sheet(wb, "choices", [
        ["list_name", "name", "label" + ZH, "label" + EN, "township"],
        ["township", "t1", "城关镇", "Chengguan", None],
        ["township", "t2", "河西镇", "Hexi", None],
        ["village", "v1", "东关村", "Dongguan", "t1"],
        ["village", "v2", "西关村", "Xiguan", "t1"],
        ["village", "v3", "河口村", "Hekou", "t2"],
        ["sources", "land", "土地出租", "Land rent", None],
        ["sources", "enterprise", "村办企业", "Village enterprise", None],
        ["sources", "grant", "上级补助", "Grants", None],
        ["yes_no", "yes", "是", "Yes", None],
        ["yes_no", "no", "否", "No", None],
    ])
    sheet(wb, "settings", [
        ["form_id", "version", "form_title", "default_language", "period_type", "unit_level", "due", "constants"],
        ["xf-village", "2026.1", "村党组织简表", "Chinese (zh)", "annual", "village", '{"2026": 2026-11-30}', "{weak_income: 5}"],
    ])
    sheet(wb, "indicators", [
        ["name", "type", "label" + ZH, "label" + EN, "value", "numerator", "denominator", "condition", "format"],
        ["members", "sum", "党员总数", "Members", "${members_total}", None, None, None, "count"],
        ["women_share", "ratio", "女党员占比", "Women's share", None, "${members_women}", "${members_total}", None, "percent"],
        ["weak", "count", "收入薄弱村", "Villages with a weak income", None, None, None, "${income} < ${weak_income}", "count"],
    ])
    wb.save(path)


def refused(path):
    """What the engine cannot do, each in a known cell."""
    import openpyxl

    wb = openpyxl.Workbook()
    sheet(wb, "survey", [
        ["type", "name", "label", "calculation", "appearance"],
        ["geopoint", "location", "位置", None, None],  # row 2
        ["begin repeat", "households", "农户", None, None],  # row 3
        ["text", "head", "户主", None, None],
        ["begin repeat", "people", "成员", None, None],  # row 5: nested
        ["text", "person", "姓名", None, None],
        ["end repeat", None, None, None, None],
        ["end repeat", None, None, None, None],
        ["calculate", "looked_up", None, "pulldata('villages', 'name', 'code', '1')", None],  # row 9, column D
        ["image", "photo", "照片", None, None],  # row 10
        ["integer", "count", "数量", None, "numbers"],  # row 11: a warning only
        ["rating", "score", "评分", None, None],  # row 12: unknown type
        ["end group", None, None, None, None],  # row 13: no begin
    ], first=True)
    sheet(wb, "settings", [["form_id", "version"], ["refused", "1"]])
    sheet(wb, "entities", [["list_name", "label"], ["households", "${head}"]])
    wb.save(path)


def files(directory):
    with open(f"{directory}/villages.csv", "w", encoding="utf-8", newline="") as out:
        out.write("name,label,township\r\nv1,东关村,t1\r\nv2,西关村,t1\r\nv3,\"河口村, 南\",t2\r\n")
    with open(f"{directory}/skills.csv", "w", encoding="utf-8-sig", newline="") as out:
        out.write("name,label::Chinese (zh),label::English (en)\nfarming,种植,Farming\ntrade,经商,Trade\n")


def parsed(path):
    """pyxform's survey for the workbook, as its builder makes it."""
    from pyxform import builder, xls2json

    survey = builder.create_survey_element_from_dict(xls2json.parse_file_to_json(path))
    return survey.to_json_dict()


if __name__ == "__main__":
    if sys.argv[1] == "make":
        directory = sys.argv[2]
        files(directory)
        full(f"{directory}/full.xlsx")
        refused(f"{directory}/refused.xlsx")
    elif sys.argv[1] == "pyxform":
        print(json.dumps(parsed(sys.argv[2]), ensure_ascii=False, default=str))
