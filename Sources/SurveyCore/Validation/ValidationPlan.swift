/// The order in which the engine settles a survey: relevance and
/// calculations run after everything they read. Made once per form.
struct ValidationPlan: Sendable {
    enum Step: Sendable {
        /// A top-level field (question, note, calculation or group).
        case field(Int)
        /// A whole repeat, with every entry's fields in `repeatOrders`.
        case repeatGroup(Int)
    }

    let topOrder: [Step]
    /// Per repeat, the field indices inside it in dependency order.
    let repeatOrders: [[Int]]
    /// Top-level fields that hold answers, and repeats, in document order.
    let topFields: [Int]
    /// Per repeat, the fields inside it that hold answers, in document order.
    let repeatFields: [[Int]]
    let topSlots: Int
    let repeatSlots: [Int]
    /// The fields with a constraint, at the top level and per repeat.
    let topConstrained: [Int]
    let repeatConstrained: [[Int]]
    /// Name look-ups for the fields outside repeats (repeats included) and
    /// for the fields of each repeat's entries, in document order.
    let topLookup: ValidationRun.FieldLookup
    /// Per field index: whether the field or a group around it (inside its
    /// repeat, if any) has a relevance condition, so its answer may be dropped.
    let conditional: [Bool]
    let repeatLookups: [ValidationRun.FieldLookup]
    /// Fields with soft checks (`warnings:`), in document order.
    var warnedFields: [Int] = []
    /// Whether any expression reads `previous(…)`.
    var readsPrevious = false
    /// Computed fields whose value hangs on `previous(…)` (`Form.baselineDependent`).
    var baselineDependent: Set<String> = []
    /// The top-level questions a baseline is read for (`previous(…)`'s and
    /// the screened numbers), when none is computed; nil: settle it whole.
    var baselineReads: [Int]?
    /// `baselineReads`' names, ready to be picked out of stored answers.
    var baselineMembers: JSONParser.MemberKeys?
    /// Whether every field of `baselineDependent` is at the top level.
    var baselineDependentTopLevel = true
    /// `baselineDependent` as a list with each name's length in bytes: a
    /// key is compared with a few names, length first, cheaper than
    /// hashing it.
    var baselineDependentList: [(name: String, length: Int)] = []
}

/// Sorts fields topologically (document order among equals) and records
/// every cycle it meets.
struct PlanBuilder {
    let fields: [Field]
    let indexByName: [String: Int]
    let repeatFields: [Int]
    let topSlots: Int
    let repeatSlots: [Int]
    private(set) var cycles: [[Int]] = []

    /// The numbers `settings.outliers` screens (a baseline is read for them too).
    var outlierFields: [String] = []

    init(fields: [Field], indexByName: [String: Int], repeatFields: [Int], topSlots: Int, repeatSlots: [Int]) {
        self.fields = fields
        self.indexByName = indexByName
        self.repeatFields = repeatFields
        self.topSlots = topSlots
        self.repeatSlots = repeatSlots
    }

    /// The field names an ordering step reads: its relevance and calculation.
    private func reads(_ field: Field) -> [String] {
        (field.relevant?.references ?? []) + (field.calculation?.references ?? [])
    }

    /// Maps a field to its node in the graph of `scope` (nil: top level):
    /// fields of other scopes collapse to their repeat at the top level.
    private func node(of index: Int, in scope: Int?) -> Int? {
        let field = fields[index]
        if scope == nil {
            if let repeatIndex = field.repeatIndex { return repeatFields[repeatIndex] }
            return index
        }
        return field.repeatIndex == scope ? index : nil
    }

    mutating func build() -> ValidationPlan {
        var topNodes: [Int] = []
        var innerNodes = Array(repeating: [Int](), count: repeatFields.count)
        for (index, field) in fields.enumerated() {
            if let repeatIndex = field.repeatIndex { innerNodes[repeatIndex].append(index) } else { topNodes.append(index) }
        }

        // Dependencies per node; a repeat at the top level gathers what its
        // inner fields read from outside it.
        var topDeps: [Int: [Int]] = [:]
        var innerDeps: [Int: [Int]] = [:]
        for (index, field) in fields.enumerated() {
            let names = reads(field)
            if let repeatIndex = field.repeatIndex {
                var inner: [Int] = []
                if let parent = field.parent, fields[parent].repeatIndex == repeatIndex { inner.append(parent) }
                for name in names {
                    guard let target = indexByName[name] else { continue }
                    if let local = node(of: target, in: repeatIndex) {
                        inner.append(local)
                    } else if let outside = node(of: target, in: nil), outside != repeatFields[repeatIndex] {
                        topDeps[repeatFields[repeatIndex], default: []].append(outside)
                    } else if target == repeatFields[repeatIndex] {
                        continue
                    }
                }
                innerDeps[index] = inner
            } else {
                var deps = topDeps[index] ?? []
                if let parent = field.parent { deps.append(parent) }
                for name in names {
                    guard let target = indexByName[name], let dep = node(of: target, in: nil) else { continue }
                    if dep == index && field.type == .repeat && fields[target].type == .repeat { continue }
                    deps.append(dep)
                }
                topDeps[index] = deps
            }
        }

        let topOrder = sort(topNodes, deps: topDeps)
        let repeatOrders = innerNodes.map { sort($0, deps: innerDeps) }

        var topFields: [Int] = []
        var innerFields = Array(repeating: [Int](), count: repeatFields.count)
        for (index, field) in fields.enumerated() where field.type.holdsValue || field.type == .repeat {
            if let repeatIndex = field.repeatIndex { innerFields[repeatIndex].append(index) } else { topFields.append(index) }
        }
        let steps: [ValidationPlan.Step] = topOrder.map { index in
            if let position = fields[index].repeatPosition { return .repeatGroup(position) }
            return .field(index)
        }
        func lookup(_ indices: [Int]) -> ValidationRun.FieldLookup {
            let names = indices.map { fields[$0].name }
            return ValidationRun.FieldLookup(
                names: names, indices: indices, index: Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first }))
        }
        var conditional = Array(repeating: false, count: fields.count)
        for (index, field) in fields.enumerated() {
            var current: Field? = field
            while let item = current, item.type != .repeat || item === field {
                if item.relevant != nil, item.type != .repeat || item === field {
                    conditional[index] = true
                    break
                }
                current = item.parent.map { fields[$0] }
            }
        }
        var plan = ValidationPlan(
            topOrder: steps, repeatOrders: repeatOrders, topFields: topFields, repeatFields: innerFields,
            topSlots: topSlots, repeatSlots: repeatSlots,
            topConstrained: topFields.filter { fields[$0].constraint != nil || fields[$0].choiceFilter != nil },
            repeatConstrained: innerFields.map { $0.filter { fields[$0].constraint != nil || fields[$0].choiceFilter != nil } },
            topLookup: lookup(topNodes), conditional: conditional, repeatLookups: innerNodes.map(lookup))
        plan.warnedFields = fields.indices.filter { !fields[$0].warnings.isEmpty }
        var dependent = Set(fields.filter { $0.calculation?.readsPrevious == true }.map(\.name))
        var grew = !dependent.isEmpty
        while grew {
            grew = false
            for field in fields where !dependent.contains(field.name) {
                if let calculation = field.calculation, calculation.references.contains(where: dependent.contains) {
                    dependent.insert(field.name)
                    grew = true
                }
            }
        }
        plan.baselineDependent = dependent
        plan.baselineDependentList = dependent.sorted().map { ($0, $0.utf8.count) }
        plan.baselineDependentTopLevel = dependent.allSatisfy { name in indexByName[name].map { fields[$0].repeatIndex == nil } ?? false }
        var read = Set<String>()
        for field in fields {
            var expressions = [field.relevant, field.calculation, field.constraint] + field.warnings.map(\.condition)
            if case .when(let expression) = field.requirement { expressions.append(expression) }
            for expression in expressions.compactMap({ $0 }) { read.formUnion(expression.previousReferences) }
        }
        read.formUnion(outlierFields)
        let indices = read.compactMap { indexByName[$0] }.sorted()
        if indices.count == read.count, indices.allSatisfy({ fields[$0].takesAnswer && fields[$0].repeatIndex == nil }) {
            plan.baselineReads = indices
            plan.baselineMembers = JSONParser.MemberKeys(indices.map { fields[$0].name })
        }
        plan.readsPrevious = fields.contains { field in
            let expressions = [field.relevant, field.calculation, field.constraint] + field.warnings.map(\.condition)
            let requirement: FormExpression? = if case .when(let expression) = field.requirement { expression } else { nil }
            return (expressions + [requirement]).contains { $0?.readsPrevious == true }
        }
        return plan
    }

    /// Depth-first topological sort in document order; a back edge is a cycle.
    private mutating func sort(_ nodes: [Int], deps: [Int: [Int]]) -> [Int] {
        enum Mark { case visiting, done }
        var marks: [Int: Mark] = [:]
        var order: [Int] = []
        var stack: [Int] = []
        var seenCycles: Set<Set<Int>> = []
        func visit(_ node: Int) {
            switch marks[node] {
            case .done: return
            case .visiting:
                if let start = stack.firstIndex(of: node) {
                    let cycle = Array(stack[start...])
                    if seenCycles.insert(Set(cycle)).inserted { cycles.append(cycle) }
                }
                return
            case nil: break
            }
            marks[node] = .visiting
            stack.append(node)
            for dep in deps[node] ?? [] { visit(dep) }
            stack.removeLast()
            marks[node] = .done
            order.append(node)
        }
        for node in nodes { visit(node) }
        return order
    }
}
