using System.Reflection;
using System.Text.RegularExpressions;
using Xunit;

namespace RestoreOps.Tests.PowerShell;

/// <summary>
/// The cmdlet surface as PowerShell will see it, read from the built module's metadata (POWERSHELL.md §2, §4): names,
/// the pipeline between stages, ShouldProcess, the manifest's export list, the shared Kubernetes parameters, and
/// which assemblies parameter and output types may come from.
/// </summary>
[Collection(ModuleMetadataCollection.Name)]
public sealed partial class SurfaceTests(ModuleMetadata module)
{
    private const string KubernetesCmdlet = "RestoreOps.PowerShell.Infrastructure.KubernetesCmdlet";
    private static readonly string[] KubernetesParameters = ["Namespace", "Context", "Kubeconfig"];

    // The noun rule: a noun is singular (Get-Process, not Get-Processes), judged by its last PascalCase word, which
    // must not end in "s" unless it is one of these words that are singular although they end in "s".
    private static readonly HashSet<string> SingularWordsEndingInS = new(StringComparer.Ordinal)
    {
        "Access", "Address", "Alias", "Analysis", "Bus", "Class", "Process", "Progress", "Series", "Status",
    };

    // The stage-to-stage pipelines the help and README promise (each pair: the first cmdlet's output piped into the second).
    public static TheoryData<string, string> Pipelines => new()
    {
        { "Get-CnpgBackup", "New-RestoreCluster" },
        { "New-CnpgBackup", "New-RestoreCluster" },
        { "New-CnpgBackup", "Invoke-RestoreDrill" },
        { "New-RestoreCluster", "Wait-ClusterReady" },
        { "Wait-ClusterReady", "Invoke-RestoreCheck" },
        { "Invoke-RestoreCheck", "Export-DrillEvidence" },
        { "Export-DrillEvidence", "Send-DrillHeartbeat" },
        { "Get-BarmanBackup", "New-RestoreCluster" },
        { "Get-LocalBackup", "New-RestoreCluster" },
        { "Get-CnpgBackup", "Invoke-RestoreDrill" },
        { "Get-BarmanBackup", "Invoke-RestoreDrill" },
        { "Get-LocalBackup", "Invoke-RestoreDrill" },
        { "New-RestoreDemoBackup", "Invoke-RestoreDrill" },
        { "New-RestoreDemoBackup", "New-RestoreCluster" },
        { "Invoke-RestoreDrill", "Export-DrillEvidence" },
        { "Invoke-RestoreDrill", "Send-DrillHeartbeat" },
        { "Get-RestoreCluster", "Wait-ClusterReady" },
        { "Get-RestoreCluster", "Remove-RestoreCluster" },
        { "New-RestoreCluster", "Remove-RestoreCluster" },
    };

    [Fact]
    public void The_module_has_cmdlets()
    {
        // Every other test iterates over these; an empty list would make them pass vacuously.
        Assert.True(module.Cmdlets.Count >= 10, $"only {module.Cmdlets.Count} cmdlets found: {string.Join(", ", module.Cmdlets.Select(c => c.Name))}");
    }

    [Fact]
    public void Every_cmdlet_uses_an_approved_verb()
    {
        var approved = ApprovedVerbs();
        var offenders = module.Cmdlets.Where(c => !approved.Contains(c.Verb)).Select(c => $"{c.Name} ({c.Type.Name})").ToList();
        Assert.True(offenders.Count == 0, $"Verbs not in System.Management.Automation's Verbs* classes: {string.Join(", ", offenders)}.");
    }

    [Fact]
    public void Every_cmdlet_has_a_singular_noun()
    {
        var offenders = module.Cmdlets
            .Where(c => LastWord(c.Noun) is var word && word.EndsWith('s') && !SingularWordsEndingInS.Contains(word))
            .Select(c => c.Name).ToList();
        Assert.True(offenders.Count == 0, $"Nouns that read as plurals (PowerShell nouns are singular): {string.Join(", ", offenders)}.");
    }

    [Theory]
    [MemberData(nameof(Pipelines))]
    public void Each_stage_pipes_into_the_next(string from, string to)
    {
        var producer = module.Cmdlet(from);
        var consumer = module.Cmdlet(to);
        Assert.NotEmpty(producer.OutputTypes);
        var problems = producer.OutputTypes.Where(t => !Binds(t, consumer)).Select(t => t.FullName).ToList();
        Assert.True(problems.Count == 0,
            $"{from} outputs {string.Join(", ", problems)}, which no pipeline parameter of {to} takes. Its pipeline parameters: " +
            string.Join("; ", consumer.Parameters.Where(p => p.ByValue || p.ByPropertyName)) + ".");
    }

    [Theory]
    [InlineData("New-RestoreCluster", "Medium")]
    [InlineData("Invoke-RestoreDrill", "Medium")]
    [InlineData("Remove-RestoreCluster", "High")]
    public void Changing_cmdlets_support_ShouldProcess_at_their_impact(string name, string impact)
    {
        var cmdlet = module.Cmdlet(name);
        Assert.True(cmdlet.SupportsShouldProcess, $"{name} does not declare SupportsShouldProcess.");
        Assert.Equal(impact, cmdlet.ConfirmImpact);
    }

    [Fact]
    public void Every_cmdlet_that_creates_removes_or_runs_a_drill_supports_ShouldProcess()
    {
        // New and Remove per PowerShell's guidelines, the other state-changing verbs for cmdlets still to come, and
        // Invoke-RestoreDrill because it creates and deletes a restore target.
        string[] changing = ["New", "Remove", "Set", "Add", "Clear", "Reset", "Rename", "Move", "Start", "Stop", "Restart", "Install", "Uninstall", "Update"];
        var offenders = module.Cmdlets.Where(c => changing.Contains(c.Verb) || c.Name == "Invoke-RestoreDrill")
            .Where(c => !c.SupportsShouldProcess).Select(c => c.Name).ToList();
        Assert.True(offenders.Count == 0, $"Cmdlets that change state without -WhatIf/-Confirm: {string.Join(", ", offenders)}.");
    }

    [Fact]
    public void The_manifest_exports_exactly_the_cmdlets_of_the_assembly()
    {
        var exported = ManifestList(File.ReadAllText(BuiltModule.SourceManifestPath), "CmdletsToExport");
        var compiled = module.Cmdlets.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var missing = compiled.Except(exported).Order(StringComparer.Ordinal).ToList();
        var unknown = exported.Except(compiled).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0 && unknown.Count == 0,
            $"module/RestoreOps/RestoreOps.psd1 CmdletsToExport differs from the assembly's cmdlets. " +
            $"Not exported: {(missing.Count == 0 ? "none" : string.Join(", ", missing))}. " +
            $"Exported but not in the assembly: {(unknown.Count == 0 ? "none" : string.Join(", ", unknown))}.");
    }

    [Fact]
    public void Kubernetes_parameters_are_strings_everywhere()
    {
        var offenders = module.Cmdlets.SelectMany(c => c.Parameters.Where(p => KubernetesParameters.Contains(p.Name) && p.Type != module.CoreAssembly.GetType("System.String"))
            .Select(p => $"{c.Name} -{p.Name} is {p.Type.FullName}")).ToList();
        Assert.True(offenders.Count == 0, string.Join("; ", offenders));
    }

    [Fact]
    public void Every_Kubernetes_cmdlet_takes_Context_and_Kubeconfig()
    {
        var kubernetes = module.Cmdlets.Where(c => c.DerivesFrom(KubernetesCmdlet)).ToList();
        Assert.NotEmpty(kubernetes);
        var offenders = kubernetes.SelectMany(c => new[] { "Context", "Kubeconfig" }.Where(n => c.Parameters.All(p => p.Name != n)).Select(n => $"{c.Name} lacks -{n}")).ToList();
        Assert.True(offenders.Count == 0, string.Join("; ", offenders));
    }

    [Fact]
    public void A_cmdlet_with_Namespace_is_a_Kubernetes_cmdlet()
    {
        // -Namespace without -Context/-Kubeconfig would select a namespace of whichever cluster happens to be current.
        var offenders = module.Cmdlets.Where(c => c.Parameters.Any(p => p.Name == "Namespace") && !c.DerivesFrom(KubernetesCmdlet)).Select(c => c.Name).ToList();
        Assert.True(offenders.Count == 0, $"Take -Namespace but do not derive from KubernetesCmdlet: {string.Join(", ", offenders)}.");
    }

    [Fact]
    public void Parameter_and_output_types_come_from_the_BCL_PowerShell_or_the_Model()
    {
        // The Model is the one assembly PowerShell and the engine's load context share; an engine or third-party type
        // here would exist twice (or not at all) on PowerShell's side.
        var offenders = new List<string>();
        foreach (var cmdlet in module.Cmdlets)
        {
            foreach (var p in cmdlet.Parameters)
                offenders.AddRange(Foreign(p.Type).Select(t => $"{cmdlet.Name} -{p.Name}: {t.FullName} from {t.Assembly.GetName().Name}"));
            foreach (var output in cmdlet.OutputTypes)
                offenders.AddRange(Foreign(output).Select(t => $"{cmdlet.Name} [OutputType]: {t.FullName} from {t.Assembly.GetName().Name}"));
        }
        Assert.True(offenders.Count == 0, string.Join("\n", offenders));
    }

    private IEnumerable<Type> Foreign(Type type) =>
        ModuleMetadata.Constituents(type).Where(t => t.Assembly != module.Model && t.Assembly != module.Automation && !module.IsBcl(t.Assembly));

    private HashSet<string> ApprovedVerbs()
    {
        string[] classes = ["VerbsCommon", "VerbsCommunications", "VerbsData", "VerbsDiagnostic", "VerbsLifecycle", "VerbsOther", "VerbsSecurity"];
        var verbs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in classes)
        {
            var type = module.Automation.GetType("System.Management.Automation." + name)
                ?? throw new Xunit.Sdk.XunitException($"System.Management.Automation.{name} is not in the PowerShellStandard stub.");
            var fields = type.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).ToList();
            Assert.True(fields.Count > 0, $"{name} has no verb constants.");
            foreach (var f in fields) verbs.Add((string)f.GetRawConstantValue()!);
        }
        return verbs;
    }

    private static string LastWord(string noun) => UpperCaseWords().Matches(noun) is { Count: > 0 } words ? words[^1].Value : noun;

    /// <summary>True when PowerShell can bind <paramref name="output"/> to some pipeline parameter of <paramref name="consumer"/>.</summary>
    private static bool Binds(Type output, CmdletInfo consumer)
    {
        foreach (var p in consumer.Parameters)
        {
            if (p.ByValue && Accepts(p.Type, output)) return true;
            if (!p.ByPropertyName) continue;
            string[] names = [p.Name, .. p.Aliases];
            var property = output.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .FirstOrDefault(o => names.Contains(o.Name, StringComparer.OrdinalIgnoreCase));
            if (property is not null && Accepts(p.Type, property.PropertyType)) return true;
        }
        return false;
    }

    // Nullable<T> and arrays bind an item of T; anything else must be assignable as it is (no type conversion).
    private static bool Accepts(Type parameter, Type value)
    {
        if (Nullable.GetUnderlyingType(parameter) is { } underlying) parameter = underlying;
        if (parameter.IsAssignableFrom(value)) return true;
        return parameter.IsArray && parameter.GetElementType()!.IsAssignableFrom(value);
    }

    /// <summary>The quoted names in <c>Key = @( … )</c> of a .psd1, comments left out.</summary>
    internal static HashSet<string> ManifestList(string psd1, string key)
    {
        var text = BlockComments().Replace(psd1, "");
        text = LineComments().Replace(text, "");
        var match = Regex.Match(text, $@"\b{key}\s*=\s*@\((?<items>[^)]*)\)", RegexOptions.IgnoreCase);
        Assert.True(match.Success, $"No {key} = @( … ) in the manifest.");
        return Quoted().Matches(match.Groups["items"].Value).Select(m => m.Groups["s"].Success ? m.Groups["s"].Value : m.Groups["d"].Value)
            .ToHashSet(StringComparer.Ordinal);
    }

    [GeneratedRegex("[A-Z][a-z0-9]*")]
    private static partial Regex UpperCaseWords();

    [GeneratedRegex("<#.*?#>", RegexOptions.Singleline)]
    private static partial Regex BlockComments();

    // A # outside quotes starts a comment; names never contain one.
    [GeneratedRegex("#[^\n]*")]
    private static partial Regex LineComments();

    [GeneratedRegex("'(?<s>[^']*)'|\"(?<d>[^\"]*)\"")]
    private static partial Regex Quoted();
}
