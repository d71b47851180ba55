import ArgumentParser
import Foundation
import SurveyCore
import SurveyServer

#if canImport(Glibc)
    import Glibc
#endif

/// `vsurvey-server user`: people who sign in to the web pages with a name
/// and a password (tokens stay for devices and scripts).
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "管理用户(用用户名和密码登录网页)/ Manage users, who sign in to the web pages with a name and a password.",
        subcommands: [Create.self, List.self, Disable.self, ResetPassword.self])

    /// Reads a password: from the terminal without echo (asked twice), or
    /// one line of standard input when it is not a terminal.
    static func readPassword(_ options: ServerOptions) throws -> String {
        guard isatty(STDIN_FILENO) == 1 else {
            guard let line = Swift.readLine(strippingNewline: true) else {
                throw options.fail(L("标准输入中没有密码", "no password on standard input"))
            }
            return line
        }
        func ask(_ prompt: LocalizedText) -> String {
            FileHandle.standardError.write(Data(prompt.text(options.language).utf8))
            var saved = termios()
            tcgetattr(STDIN_FILENO, &saved)
            var silent = saved
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &silent)
            defer {
                tcsetattr(STDIN_FILENO, TCSANOW, &saved)
                FileHandle.standardError.write(Data("\n".utf8))
            }
            return Swift.readLine(strippingNewline: true) ?? ""
        }
        let first = ask(L("密码:", "Password: "))
        let second = ask(L("再输一遍:", "Again: "))
        guard first == second else { throw options.fail(L("两次输入的密码不一样", "the two passwords differ")) }
        return first
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "新建用户;密码从终端读入(不显示),或从标准输入读一行 / Create a user; the password is read from the terminal (not shown) or one line of standard input.",
            discussion: """
                角色:viewer(查看)、reviewer(在其单位的层级审核)、admin(管理)。密码至少 10 个字符,只保存其 scrypt 哈希。
                Roles: viewer, reviewer (reviews at its unit's level) or admin. Passwords have at least 10 characters; only their scrypt hash is kept.
                """)

        @OptionGroup var options: ServerOptions
        @Option(help: "用户名(唯一)/ A unique name.") var name: String
        @Option(help: "角色 / Role: viewer, reviewer or admin.") var role: String
        @Option(help: ArgumentHelp("范围:12 位单位代码 / Scope: a 12-digit unit code.", valueName: "code")) var unit: String

        func validate() throws {
            guard let role = Role(rawValue: role), role != .collector else {
                throw ValidationError("--role 应为 viewer、reviewer 或 admin / --role must be viewer, reviewer or admin")
            }
            guard UnitCode(unit) != nil else { throw ValidationError("--unit 应为 12 位单位代码 / --unit must be a 12-digit unit code") }
            guard !name.trimmingSpaces.isEmpty, name.count <= 100 else { throw ValidationError("--name 应为 1 到 100 个字符 / --name must be 1 to 100 characters") }
        }

        func run() async throws {
            let storage = try await options.openStorage(creating: false)
            let scope = UnitCode(unit)!
            guard try await storage.unit(scope).unit != nil else {
                throw options.fail(L("单位 \(unit) 不在单位名录中;请检查代码", "unit \(unit) is not in the registry; check the code"))
            }
            let password = try UserCommand.readPassword(options)
            let service = SurveyService(storage: storage, catalog: FormCatalog(directories: []))
            do {
                let record = try await service.createPerson(name: name, role: Role(rawValue: role)!, unit: scope, password: password, by: .console())
                options.say(
                    L(
                        "已创建用户 “\(record.name)”(\(record.role.label.zh),范围 \(record.unit))",
                        "created user '\(record.name)' (\(record.role.rawValue), scope \(record.unit))"))
            } catch let error as ServiceError {
                throw options.fail(error.message)
            } catch let error as StorageError {
                throw options.fail(error.message)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "列出用户(不显示密码)/ List users (never their passwords).")
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let storage = try await options.openStorage(creating: false)
            let people = try await storage.people()
            if people.isEmpty {
                options.say(L("还没有用户。用 vsurvey-server user create 新建", "no users yet; create one with vsurvey-server user create"))
                return
            }
            let en = options.language == .en
            TextTable.print(
                en ? ["id", "name", "role", "unit", "created", "password set", "state"] : ["编号", "用户名", "角色", "范围", "创建时间", "密码设置时间", "状态"],
                people.map { person in
                    [
                        String(person.id), person.name, person.role.label.text(options.language), person.unit.rawValue, Timestamp.forPeople(person.createdAt),
                        Timestamp.forPeople(person.passwordChangedAt),
                        person.disabledAt.map { (en ? "disabled " : "已停用 ") + Timestamp.forPeople($0) } ?? (en ? "active" : "有效"),
                    ]
                })
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "停用用户,其登录立即失效 / Disable a user; their sign-ins end at once.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "用户名 / The user's name.") var name: String

        func run() async throws {
            let storage = try await options.openStorage(creating: false)
            let service = SurveyService(storage: storage, catalog: FormCatalog(directories: []))
            do {
                _ = try await service.disablePerson(name, by: .console())
                options.say(L("已停用用户 “\(name)”", "disabled user '\(name)'"))
            } catch let error as ServiceError {
                throw options.fail(error.message)
            }
        }
    }

    struct ResetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-password", abstract: "为用户设新密码,其登录立即失效 / Set a user's new password; their sign-ins end at once.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "用户名 / The user's name.") var name: String

        func run() async throws {
            let storage = try await options.openStorage(creating: false)
            let password = try UserCommand.readPassword(options)
            let service = SurveyService(storage: storage, catalog: FormCatalog(directories: []))
            do {
                _ = try await service.resetPassword(of: name, to: password, by: .console())
                options.say(L("已为用户 “\(name)” 设新密码", "set a new password for user '\(name)'"))
            } catch let error as ServiceError {
                throw options.fail(error.message)
            }
        }
    }
}
