using Xunit;

namespace RestoreOps.Tests.PowerShell;

/// <summary>
/// dbatools' habit (POWERSHELL.md §6): each cmdlet's parameters written out here, so adding, renaming or removing one
/// fails a test and the docs, help and Pester tests get updated in the same change. Hard-coded on purpose.
/// </summary>
[Collection(ModuleMetadataCollection.Name)]
public sealed class SurfaceParameterListTests(ModuleMetadata module)
{
    private static readonly string[] Kubernetes = ["Context", "Kubeconfig"];

    // New-RestoreCluster and Invoke-RestoreDrill share these through RestoreTargetCmdlet.
    private static readonly string[] RestoreTarget =
    [
        .. Kubernetes, "Backup", "Local", "Namespace", "StorageSize", "StorageClass", "AllowSourceNamespace", "WorkRoot",
        "PostgresBinDirectory", "OsUser", "EndpointUrl", "Region", "Credential", "TargetTime", "TargetLsn", "TargetXid",
        "TargetName", "TargetImmediate", "TargetExclusive", "Expiry", "ObjectStore", "Connect",
    ];

    private static readonly Dictionary<string, string[]> Expected = new(StringComparer.Ordinal)
    {
        ["Get-CnpgBackup"] = [.. Kubernetes, "Cluster", "Namespace", "Name", "Latest"],
        ["New-CnpgBackup"] = [.. Kubernetes, "Cluster", "Namespace", "Method", "Wait", "Timeout"],
        ["Get-BarmanBackup"] = ["DestinationPath", "ServerName", "BackupId", "Latest", "IncludeUnusable", "EndpointUrl", "Region", "Credential"],
        ["Get-LocalBackup"] = ["Path", "WalPath"],
        ["New-RestoreDemoBackup"] = ["WorkRoot", "PostgresBinDirectory", "OsUser"],
        ["Get-RestoreCluster"] = [.. Kubernetes, "Name", "DrillId", "Namespace", "AllNamespaces", "Kind", "WorkRoot", "Orphaned"],
        ["New-RestoreCluster"] = [.. RestoreTarget, "Name", "DrillId", "Purpose", "Force"],
        ["Wait-ClusterReady"] = [.. Kubernetes, "InputObject", "Name", "Namespace", "Timeout"],
        ["Invoke-RestoreCheck"] = [.. Kubernetes, "InputObject", "Path", "Check", "Database", "MaxBackupAge", "MaxDataAge", "MaxRestoreTime", "PreviousEvidencePath"],
        ["Invoke-RestoreDrill"] =
        [
            .. RestoreTarget, "Path", "Check", "Database", "MaxBackupAge", "MaxDataAge", "MaxRestoreTime", "Timeout", "KeepOnFailure",
            "EvidencePath", "SigningKeyVariable", "HeartbeatUrl", "ThrottleLimit", "Owner", "Note",
        ],
        ["Export-DrillEvidence"] = ["Record", "Path", "SigningKeyVariable", "TextfileCollectorPath", "Owner", "Note"],
        ["Find-RecoveryPoint"] =
        [
            "DestinationPath", "ServerName", "EndpointUrl", "Region", "Credential", "WalPath", "From", "To", "MinimumRows",
            "ResolveConnectionString", "PostgresBinDirectory",
        ],
        ["Send-DrillHeartbeat"] = ["Record", "Url", "Attempts"],
        ["Get-DrillHistory"] = ["Path", "Source", "Verdict", "Last", "Summary", "StaleAfter"],
        ["Get-RestoreOpsRbac"] = ["SourceNamespace", "DrillNamespace", "ServiceAccount", "ServiceAccountNamespace", "PortForward"],
        ["Remove-RestoreCluster"] = [.. Kubernetes, "InputObject", "Name", "Orphaned", "Namespace", "AllNamespaces", "Kind", "WorkRoot", "Force", "PassThru"],
    };

    public static TheoryData<string> Cmdlets => new(Expected.Keys);

    [Fact]
    public void Every_cmdlet_has_a_parameter_list_here()
    {
        var compiled = module.Cmdlets.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(Expected.Keys.Order(StringComparer.Ordinal), compiled.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void Parameters_are_as_documented(string name)
    {
        var actual = module.Cmdlet(name).Parameters.Select(p => p.Name).Order(StringComparer.Ordinal).ToList();
        var expected = Expected[name].Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        Assert.True(expected.SequenceEqual(actual),
            $"{name}: added {Describe(actual.Except(expected))}; removed {Describe(expected.Except(actual))}. " +
            "Update this list together with docs/cmdlets, the help and the Pester tests.");
    }

    private static string Describe(IEnumerable<string> names) => names.Any() ? string.Join(", ", names.Select(n => "-" + n)) : "none";
}
