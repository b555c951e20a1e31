using System.Globalization;
using System.Text.Json.Nodes;
using RestoreOps.Model;

namespace RestoreOps.Cnpg;

/// <summary>A CNPG recovery Cluster resource as the pipeline sees it: the <see cref="RestoreCluster"/> a listing returns.</summary>
internal static class CnpgRestoreClusters
{
    /// <summary>
    /// Maps a Cluster labelled as RestoreOps' to a <see cref="RestoreCluster"/>. Ready means what a wait means by it
    /// (<see cref="CnpgRestore.IsReady"/>): one definition, so a listing never calls Ready what a wait would not.
    /// </summary>
    public static RestoreCluster ToRestoreCluster(JsonObject cluster)
    {
        var meta = cluster["metadata"]!;
        var labels = meta["labels"];
        var annotations = meta["annotations"];
        var status = cluster["status"];
        string? Text(JsonNode? n) => n is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s : null;
        DateTimeOffset? Time(JsonNode? n) => Text(n) is { } s && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t) ? t : null;
        var phase = Text(status?["phase"]);
        var sourceNs = Text(labels?[CnpgNames.SourceNamespaceLabel]);
        var sourceCluster = Text(labels?[CnpgNames.SourceClusterLabel]);
        var recovery = cluster["spec"]?["bootstrap"]?["recovery"];
        var ready = CnpgRestore.IsReady(cluster);
        return new RestoreCluster
        {
            Name = Text(meta["name"])!,
            Namespace = Text(meta["namespace"]),
            DrillId = Text(labels?[CnpgNames.DrillIdLabel]) ?? "unknown",
            Kind = RestoreTargetKind.Cnpg,
            Purpose = Text(annotations?[CnpgNames.PurposeAnnotation]) == "recovery" ? RestorePurpose.Recovery : RestorePurpose.Drill,
            CreatedAt = Time(meta["creationTimestamp"]) ?? DateTimeOffset.UtcNow,
            ExpiresAt = Time(annotations?[CnpgNames.ExpiresAnnotation]),
            Phase = ready ? RestoreClusterPhase.Ready : phase is not null && CnpgNames.FailurePhases.Contains(phase) ? RestoreClusterPhase.Failed : RestoreClusterPhase.Replaying,
            Timeline = CrdSchema.Number(status?["timelineID"]) is { } tli ? (int)tli : null,
            RecoveryTarget = RecoveryTarget.Latest,
            Backup = new Backup
            {
                Id = Text(recovery?["backup"]?["name"]) ?? "(external cluster)",
                Name = Text(recovery?["backup"]?["name"]),
                SourceKind = BackupSourceKind.CnpgBackup,
                Source = sourceNs is not null && sourceCluster is not null ? $"{sourceNs}/{sourceCluster}" : "unknown",
                Method = recovery?["backup"] is null ? "plugin" : "barmanObjectStore",
                Location = new BackupLocation(),
            },
        };
    }

    /// <summary>
    /// What is left of a drill whose Cluster is gone (its ObjectStore and Secret copies, what CNPG made), as the target
    /// it belonged to: named after the recovery Cluster the copies were made for, so removing it removes them.
    /// </summary>
    public static RestoreCluster Leftovers(IReadOnlyList<JsonObject> objects)
    {
        var first = objects.FirstOrDefault(o => o["metadata"]?["annotations"]?[CnpgNames.RecoveryClusterAnnotation] is not null) ?? objects[0];
        var meta = first["metadata"]!;
        var name = meta["annotations"]?[CnpgNames.RecoveryClusterAnnotation]?.GetValue<string>()
            ?? meta["labels"]?[CnpgNames.ClusterLabel]?.GetValue<string>()
            ?? meta["labels"]![CnpgNames.DrillIdLabel]!.GetValue<string>();
        var cluster = ToRestoreCluster(new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["namespace"] = meta["namespace"]?.DeepClone(),
                ["labels"] = meta["labels"]?.DeepClone(),
                ["annotations"] = meta["annotations"]?.DeepClone(),
                ["creationTimestamp"] = meta["creationTimestamp"]?.DeepClone(),
            },
        });
        // Its Cluster is gone: the drill cannot become ready any more.
        cluster.Phase = RestoreClusterPhase.Failed;
        return cluster;
    }
}
