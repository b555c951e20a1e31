using System.Runtime.InteropServices;
using Xunit;
using static RestoreOps.Tests.Architecture.CompiledDependencies;

namespace RestoreOps.Tests.Architecture;

/// <summary>
/// The layer rules of docs/architecture.md, checked against the compiled assemblies: no cycle between the engine's
/// namespaces; checks and evidence never reach an outside system; the Model needs nothing but the BCL; the front ends
/// stop at the engine's door. A rule that the code does not meet yet names each remaining violation in an allow-list
/// with its reason: any other violation fails, and so does an entry that no longer occurs (the debt was paid: delete it).
/// </summary>
public sealed class LayerRulesTests
{
    /// <summary>Engine namespaces the rules are written about; a rename must update the rules, not hollow them out.</summary>
    private static readonly string[] EngineLayers =
    [
        Door, Foundation, "RestoreOps.Automation", "RestoreOps.Backups", "RestoreOps.Checks", "RestoreOps.Cnpg", "RestoreOps.Compression",
        "RestoreOps.Evidence", "RestoreOps.Kubernetes", "RestoreOps.Local", "RestoreOps.ObjectStore", "RestoreOps.Processes", "RestoreOps.Wal",
    ];

    /// <summary>What a front end may use of the engine: the door, the requests it takes, and the foundation its errors come from.</summary>
    private static readonly string[] FrontEndMayUse = [Door, Foundation, "RestoreOps.Automation"];

    /// <summary>
    /// Engine layers the front ends still use widely and that the rule does not cover yet (the evidence commands and
    /// the CLI's check builders have no door method); docs/architecture.md lists them as debt.
    /// </summary>
    private static readonly Dictionary<string, string> NotYetBehindTheDoor = new(StringComparer.Ordinal)
    {
        ["RestoreOps.Checks"] = "the CLI builds its --expect-rows/--expect-sql checks and loads check files itself",
        ["RestoreOps.Evidence"] = "evidence export, verify and history commands call the writers and the history directly",
    };

    /// <summary>A front end's use of a type past the door that the code still has, and why.</summary>
    private sealed record KnownViolation(string FrontEnd, string Type, string Reason);


    /// <summary>The front ends' remaining uses of engine layers past the door: the debt this rule still tolerates.</summary>
    private static readonly KnownViolation[] FrontEndDebt =
    [
    ];

    [Fact]
    public void The_rules_see_every_engine_layer()
    {
        var seen = EngineModelAndCli.Where(u => u.FromAssembly == EngineAssembly).Select(u => u.FromLayer).ToHashSet(StringComparer.Ordinal);
        var missing = EngineLayers.Where(l => !seen.Contains(l)).ToList();
        Assert.True(missing.Count == 0, $"No types found in {string.Join(", ", missing)}; the engine has {string.Join(", ", seen.Order(StringComparer.Ordinal))}. Update the rules with the layout.");
    }

    [Fact]
    public void Engine_namespaces_form_no_cycle()
    {
        var uses = EngineModelAndCli.Where(u => u.FromAssembly == EngineAssembly && u.ToAssembly == EngineAssembly && u.FromLayer != u.ToLayer).ToList();
        var graph = uses.GroupBy(u => u.FromLayer, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(u => u.ToLayer).Distinct(StringComparer.Ordinal).ToList(), StringComparer.Ordinal);
        // Without these edges the check would have nothing to order.
        Assert.Contains("RestoreOps.Automation", graph[Door]);
        Assert.Contains(Foundation, graph["RestoreOps.Local"]);

        var cycles = StronglyConnected(graph).Where(c => c.Count > 1).ToList();
        Assert.True(cycles.Count == 0, "Engine namespaces depend on each other in a circle; move the type that closes it down a layer, or invert the use:\n" +
            string.Join("\n", cycles.Select(c => Describe(c, uses))));
    }

    [Fact]
    public void The_foundation_below_every_layer_uses_none_of_them()
    {
        // Errors, input rules and object-store options are what every layer shares; if they used a layer, every layer would sit in a cycle with it.
        var offenders = EngineModelAndCli.Where(u => u.FromLayer == Foundation && u.ToAssembly == EngineAssembly && u.ToLayer != Foundation).ToList();
        Assert.True(offenders.Count == 0, "The root namespace's shared types (errors, input rules, options) use engine layers above them:\n" + Lines(offenders));
    }

    [Fact]
    public void Checks_and_evidence_reach_no_outside_system()
    {
        // Checks get a database connection and evidence gets a record: neither may talk to Kubernetes or object storage itself.
        string[] outside = ["RestoreOps.Kubernetes", "RestoreOps.Cnpg", "RestoreOps.ObjectStore"];
        var from = EngineModelAndCli.Where(u => u.FromLayer is "RestoreOps.Checks" or "RestoreOps.Evidence").ToList();
        Assert.Contains(from, u => u.FromLayer == "RestoreOps.Checks" && u.ToLayer == "RestoreOps.Evidence");
        var offenders = from.Where(u => outside.Contains(u.ToLayer)).ToList();
        Assert.True(offenders.Count == 0, "Checks or Evidence use Kubernetes, CNPG or object-store types; pass them what they need instead:\n" + Lines(offenders));
    }

    [Fact]
    public void The_model_uses_nothing_but_the_base_class_library()
    {
        // PowerShell's load context and the engine's share the one Model assembly: anything it pulled in would have to exist on both sides.
        var runtime = RuntimeEnvironment.GetRuntimeDirectory();
        bool IsBcl(string assembly) => File.Exists(Path.Combine(runtime, assembly + ".dll"));

        var uses = EngineModelAndCli.Where(u => u.FromAssembly == ModelAssembly).ToList();
        Assert.Contains(uses, u => u.ToAssembly == "System.Private.CoreLib");
        var offenders = uses.Where(u => u.ToAssembly != ModelAssembly && !IsBcl(u.ToAssembly)).ToList();
        var references = typeof(RestoreOps.Model.Backup).Assembly.GetReferencedAssemblies().Select(a => a.Name!).Where(n => !IsBcl(n)).ToList();
        Assert.True(offenders.Count == 0 && references.Count == 0,
            $"RestoreOps.Model must use only the BCL; it references {string.Join(", ", references.DefaultIfEmpty("nothing else"))}, and:\n" +
            Lines(offenders.Select(u => u with { To = $"{u.To} ({u.ToAssembly})" })));
    }

    [Fact]
    public void The_engine_never_references_PowerShell()
    {
        // The module owns everything PowerShell; an engine that named System.Management.Automation could not run in the CLI.
        const string Sma = "System.Management.Automation";
        var engine = typeof(RestoreEngine).Assembly;
        var references = engine.GetReferencedAssemblies().Select(a => a.Name).Where(n => n == Sma).ToList();
        var uses = EngineModelAndCli.Where(u => u.FromAssembly is EngineAssembly or ModelAssembly && u.ToAssembly == Sma).ToList();
        Assert.Contains(EngineModelAndCli, u => u.FromAssembly == EngineAssembly && u.ToAssembly == "System.Private.CoreLib");
        Assert.True(references.Count == 0 && uses.Count == 0, $"The engine or the Model references {Sma}:\n" + Lines(uses));
    }

    [Fact]
    public void The_cli_stops_at_the_engines_door() => FrontEndStopsAtTheDoor(CliAssembly, EngineModelAndCli);

    [Fact]
    public void The_powershell_module_stops_at_the_engines_door() => FrontEndStopsAtTheDoor(PowerShellAssembly, PowerShellModuleUses);

    [Fact]
    public void Every_allowed_violation_is_documented()
    {
        // The allow-list is the debt docs/architecture.md reports; each entry must be named there so the list is seen.
        var page = File.ReadAllText(Path.Combine(Fixtures.RepositoryPaths.Root, "docs", "architecture.md"));
        var missing = FrontEndDebt.Select(v => v.Type.Split('.')[^1]).Concat(NotYetBehindTheDoor.Keys).Where(n => !page.Contains(n, StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, $"docs/architecture.md does not mention {string.Join(", ", missing)}; list it under the remaining debt.");
    }

    private static void FrontEndStopsAtTheDoor(string frontEnd, IReadOnlyList<TypeUse> all)
    {
        var uses = all.Where(u => u.FromAssembly == frontEnd && u.ToAssembly == EngineAssembly).ToList();
        // A front end that did not seem to use the door at all would mean the assembly was not read.
        Assert.Contains(uses, u => u.ToLayer == Door);

        var past = uses.Where(u => !FrontEndMayUse.Contains(u.ToLayer) && !NotYetBehindTheDoor.ContainsKey(u.ToLayer)).ToList();
        var allowed = FrontEndDebt.Where(v => v.FrontEnd == frontEnd).ToList();
        var unexpected = past.Where(u => !allowed.Any(v => v.Type == u.To)).ToList();
        var paid = allowed.Where(v => !past.Any(u => u.To == v.Type)).ToList();
        Assert.True(unexpected.Count == 0 && paid.Count == 0,
            (unexpected.Count == 0 ? "" :
                $"{frontEnd} reaches past the engine's door (front ends call RestoreEngine and pass Automation requests; add a method there):\n{Lines(unexpected)}\n") +
            (paid.Count == 0 ? "" :
                $"{frontEnd} no longer uses these allow-listed types; delete their entries from {nameof(FrontEndDebt)} and docs/architecture.md:\n" +
                string.Join("\n", paid.Select(v => $"  {v.Type}"))));
    }

    private static string Lines(IEnumerable<TypeUse> uses) => string.Join("\n", uses.Select(u => $"  {u}"));

    /// <summary>One cycle: its layers, and for each edge inside it up to three of the type uses that make it.</summary>
    private static string Describe(IReadOnlyList<string> cycle, IReadOnlyList<TypeUse> uses)
    {
        var members = cycle.ToHashSet(StringComparer.Ordinal);
        var edges = uses.Where(u => members.Contains(u.FromLayer) && members.Contains(u.ToLayer))
            .GroupBy(u => (u.FromLayer, u.ToLayer)).OrderBy(g => g.Key.FromLayer, StringComparer.Ordinal).ThenBy(g => g.Key.ToLayer, StringComparer.Ordinal);
        return $"cycle among {string.Join(", ", cycle.Order(StringComparer.Ordinal))}:\n" +
            string.Join("\n", edges.Select(g => $"  {g.Key.FromLayer} -> {g.Key.ToLayer}: {string.Join("; ", g.Take(3))}{(g.Count() > 3 ? $" (+{g.Count() - 3} more)" : "")}"));
    }

    /// <summary>Tarjan's strongly connected components: every group of layers that can reach each other.</summary>
    private static List<List<string>> StronglyConnected(IReadOnlyDictionary<string, List<string>> graph)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<List<string>>();
        var nodes = graph.Keys.Concat(graph.Values.SelectMany(v => v)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

        void Visit(string node)
        {
            index[node] = low[node] = index.Count;
            stack.Push(node);
            onStack.Add(node);
            foreach (var next in graph.GetValueOrDefault(node) ?? [])
            {
                if (!index.ContainsKey(next))
                {
                    Visit(next);
                    low[node] = Math.Min(low[node], low[next]);
                }
                else if (onStack.Contains(next)) low[node] = Math.Min(low[node], index[next]);
            }
            if (low[node] != index[node]) return;
            var component = new List<string>();
            string member;
            do
            {
                member = stack.Pop();
                onStack.Remove(member);
                component.Add(member);
            } while (member != node);
            result.Add(component);
        }

        foreach (var node in nodes)
            if (!index.ContainsKey(node)) Visit(node);
        return result;
    }
}
