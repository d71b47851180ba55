import ArgumentParser
import Foundation
import SurveyCore
import SurveyServer

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "管理访问令牌 / Manage access tokens.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "创建令牌;令牌只显示这一次 / Create a token; it is shown this once only.",
            discussion: """
                collector 只能上报其单位以下的调查;viewer 可查看其单位以下的调查和报表;reviewer 可查看,并在其单位的层级(乡镇或县)审核通过或退回调查;admin 可做一切,包括审核、处理冲突和查看审计日志。
                A collector may send surveys for units under its unit; a viewer may read surveys and reports under its unit; a reviewer may read them and approve or return surveys at its unit's level (township or county); an admin may do everything there, including reviewing, resolving conflicts and reading the audit log.
                """)

        @OptionGroup var options: ServerOptions

        @Option(name: .long, help: "令牌名称(唯一) / A unique name for the token.")
        var name: String

        @Option(name: .long, help: "角色 / Role: collector, viewer, reviewer or admin.")
        var role: String

        @Option(name: .long, help: ArgumentHelp("范围:12 位单位代码 / Scope: a 12-digit unit code.", valueName: "code"))
        var unit: String

        func validate() throws {
            guard Role(rawValue: role) != nil else {
                throw ValidationError(
                    "--role 应为 collector(采集员)、viewer(查看者)、reviewer(审核员)或 admin(管理员)/ --role must be collector, viewer, reviewer or admin, not '\(role)'")
            }
            guard UnitCode(unit) != nil else { throw ValidationError("--unit 应为 12 位单位代码 / --unit must be a 12-digit unit code, not '\(unit)'") }
            guard !name.trimmingSpaces.isEmpty, name.count <= 100 else { throw ValidationError("--name 应为 1 到 100 个字符 / --name must be 1 to 100 characters") }
        }

        func run() async throws {
            let storage = try await options.openStorage(creating: false)
            // A token's scope is a unit of the registry: a mistyped code would grant nothing anyone expects.
            let scope = UnitCode(unit)!
            let (known, registrySize) = try await storage.unit(scope)
            guard known != nil else {
                throw options.fail(
                    registrySize == 0
                        ? L(
                            "数据库 \(storage.location) 还没有单位名录;先用 vsurvey-server units import 导入(serve 首次启动也会导入 forms/units/*.csv)",
                            "the database \(storage.location) has no unit registry yet; import one with vsurvey-server units import (serve also imports forms/units/*.csv at its first start)"
                        )
                        : L(
                            "单位 \(unit) 不在单位名录中(共 \(registrySize) 个单位);请检查代码",
                            "unit \(unit) is not in the registry (\(registrySize) units); check the code"))
            }
            let secret = TokenSecret.generate()
            do {
                let record = try await storage.createToken(name: name, role: Role(rawValue: role)!, unit: UnitCode(unit)!, hash: TokenSecret.hash(secret))
                try await storage.recordAudit(
                    AuditEntry(
                        actor: .console(), action: "token.create", target: record.name, unit: record.unit.rawValue,
                        details: ["role": .string(record.role.rawValue)]))
                options.say(
                    L(
                        "已创建令牌 #\(record.id) “\(record.name)”(\(record.role.label.zh),范围 \(record.unit))。令牌只显示这一次,请妥善保存:",
                        "created token #\(record.id) '\(record.name)' (\(record.role.rawValue), scope \(record.unit)). It is shown this once only; keep it safe:"
                    ))
                print(secret)
            } catch let error as StorageError {
                throw options.fail(error.message)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "列出令牌(不显示令牌本身) / List tokens (never the secrets).")

        @OptionGroup var options: ServerOptions

        func run() async throws {
            let storage = try await options.openStorage(creating: false)
            let tokens = try await storage.tokens()
            if tokens.isEmpty {
                options.say(L("还没有令牌。用 vsurvey-server token create 创建", "no tokens yet; create one with vsurvey-server token create"))
                return
            }
            let en = options.language == .en
            let header = en ? ["id", "name", "role", "unit", "created", "state"] : ["编号", "名称", "角色", "范围", "创建时间", "状态"]
            let rows = tokens.map { token in
                [
                    "\(token.id)", token.name, token.role.label.text(options.language), token.unit.rawValue, Timestamp.iso(token.createdAt),
                    token.revokedAt.map { (en ? "revoked " : "已吊销 ") + Timestamp.iso($0) } ?? (en ? "active" : "有效"),
                ]
            }
            TextTable.print(header, rows)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "吊销令牌,立即生效 / Revoke a token, at once.")

        @OptionGroup var options: ServerOptions

        @Argument(help: "令牌编号或名称 / The token's id or name.")
        var token: String

        func run() async throws {
            let storage = try await options.openStorage(creating: false)
            guard let record = try await storage.revokeToken(token) else {
                throw options.fail(L("没有编号或名称为 “\(token)” 的令牌", "no token with id or name '\(token)'"))
            }
            try await storage.recordAudit(
                AuditEntry(
                    actor: .console(), action: "token.revoke", target: record.name, unit: record.unit.rawValue, details: ["role": .string(record.role.rawValue)]
                ))
            options.say(L("已吊销令牌 #\(record.id) “\(record.name)”", "revoked token #\(record.id) '\(record.name)'"))
        }
    }
}

struct UnitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "units",
        abstract: "单位名录 / The unit registry.",
        subcommands: [Import.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "导入单位名录 CSV,替换原有名录 / Import a registry CSV, replacing the registry.",
            discussion: """
                CSV 列:code,name,level,parent。有任何错误时列出全部错误(含行号),不改动数据库。
                Columns: code,name,level,parent. On any error every problem is listed with its line and the database is left unchanged.
                """)

        @OptionGroup var options: ServerOptions

        @Argument(help: "CSV 文件 / The CSV file.")
        var file: String

        func run() async throws {
            let registry: UnitRegistry
            do {
                registry = try UnitRegistry.load(contentsOf: URL(fileURLWithPath: file))
            } catch let error as RegistryError {
                for issue in error.issues { FileHandle.standardError.write(Data((issue.rendered(options.language) + "\n").utf8)) }
                throw options.fail(L("名录有 \(error.issues.count) 处错误,未导入", "the registry has \(error.issues.count) problems; nothing was imported"))
            } catch {
                throw options.fail(L("无法读取 \(file)", "cannot read \(file)"))
            }
            let storage = try await options.openStorage()
            let count = try await storage.replaceUnits(registry.units)
            try await storage.recordAudit(
                AuditEntry(actor: .console(), action: "units.import", target: file, unit: nil, details: ["units": .integer(count)]))
            let levels = UnitLevel.allCases.compactMap { level -> String? in
                let n = registry.units.count { $0.level == level }
                return n == 0 ? nil : "\(n) \(options.language == .en ? level.plural : level.label.zh)"
            }
            options.say(L("已导入 \(count) 个单位(\(levels.joined(separator: "、")))", "imported \(count) units (\(levels.joined(separator: ", ")))"))
        }
    }
}

struct FormsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forms",
        abstract: "服务器提供的表单 / The forms the server hands out.",
        subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "列出表单及其内容哈希 / List forms with their content hashes.")

        @OptionGroup var options: ServerOptions
        @OptionGroup var formsOption: FormsOption

        func run() async throws {
            let catalog = try formsOption.catalog(options)
            for published in PublishedForm.all(in: catalog) {
                let form = published.form
                print(
                    "\(form.id)@\(form.version)  \(form.title.text(options.language))  \(form.periodType.rawValue)  \(form.unitLevel.rawValue)  \(published.hash.prefix(16))"
                )
            }
            for problem in catalog.problems {
                FileHandle.standardError.write(Data((problem.rendered(options.language) + "\n").utf8))
            }
            if !catalog.problems.isEmpty {
                throw options.fail(L("有表单无法载入,服务器不会提供它们", "some forms could not be loaded; the server will not hand them out"))
            }
        }
    }
}
