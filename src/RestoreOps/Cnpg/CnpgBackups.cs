using System.Globalization;
using System.Text.Json.Nodes;
using RestoreOps.Model;

namespace RestoreOps.Cnpg;

/// <summary>How a CNPG cluster's backups are reached.</summary>
internal enum CnpgBackupMethod
{
    /// <summary>In-tree <c>spec.backup.barmanObjectStore</c> (deprecated since CNPG 1.26).</summary>
    BarmanObjectStore,
    /// <summary>The Barman Cloud plugin with an ObjectStore resource.</summary>
    Plugin,
    /// <summary>Kubernetes volume snapshots.</summary>
    VolumeSnapshot,
}

/// <summary>Turns CNPG <c>Backup</c> resources into pipeline <see cref="Backup"/>s.</summary>
internal static class CnpgBackups
{
    /// <summary>
    /// The completed backups of <paramref name="cluster"/>, newest first by <c>status.stoppedAt</c> (creation time
    /// when absent). Filters on <c>spec.cluster.name</c>: labels are optional on hand-made Backups.
    /// </summary>
    public static IReadOnlyList<Backup> Completed(IEnumerable<JsonObject> backups, string cluster) =>
        backups.Where(b => b["spec"]?["cluster"]?["name"]?.GetValue<string>() == cluster)
            .Where(b => b["status"]?["phase"]?.GetValue<string>() == CnpgNames.BackupCompleted)
            .Select(ToBackup)
            .OrderByDescending(b => b.EndTime ?? DateTimeOffset.MinValue)
            .ThenByDescending(b => b.Id, StringComparer.Ordinal)
            .ToList();

    /// <summary>Maps one Backup resource.</summary>
    public static Backup ToBackup(JsonObject resource)
    {
        var meta = resource["metadata"]!;
        var status = resource["status"] as JsonObject ?? new JsonObject();
        var name = meta["name"]!.GetValue<string>();
        var ns = meta["namespace"]?.GetValue<string>() ?? "default";
        var method = Str(status, "method") ?? resource["spec"]?["method"]?.GetValue<string>() ?? "barmanObjectStore";
        var created = Time(meta["creationTimestamp"]);
        return new Backup
        {
            Id = Str(status, "backupId") ?? name,
            Name = name,
            SourceKind = BackupSourceKind.CnpgBackup,
            Source = $"{ns}/{resource["spec"]?["cluster"]?["name"]?.GetValue<string>()}",
            Method = method,
            Status = Str(status, "phase") == CnpgNames.BackupCompleted ? BackupStatus.Done : BackupStatus.Unknown,
            BeginTime = Time(status["startedAt"]) ?? created,
            EndTime = Time(status["stoppedAt"]) ?? created,
            BeginWal = Str(status, "beginWal"),
            EndWal = Str(status, "endWal"),
            BeginLsn = Str(status, "beginLSN"),
            EndLsn = Str(status, "endLSN"),
            PostgresMajorVersion = CrdSchema.Number(status["majorVersion"]) is { } major ? (int)major : null,
            Error = Str(status, "error"),
            Timeline = int.TryParse(status["pluginMetadata"]?["timeline"]?.GetValue<string>(), CultureInfo.InvariantCulture, out var tli) ? tli : null,
            Location = new BackupLocation
            {
                DestinationPath = Str(status, "destinationPath"),
                ServerName = Str(status, "serverName"),
                EndpointUrl = Str(status, "endpointURL"),
            },
        };
    }

    /// <summary>The method as an enum; unknown methods are a configuration error naming the value.</summary>
    public static CnpgBackupMethod MethodOf(Backup backup) => backup.Method switch
    {
        "barmanObjectStore" => CnpgBackupMethod.BarmanObjectStore,
        "plugin" => CnpgBackupMethod.Plugin,
        "volumeSnapshot" => CnpgBackupMethod.VolumeSnapshot,
        var other => throw new ConfigurationException($"Backup {backup.Name} uses method '{other}', which RestoreOps does not know.",
            "Restore a barmanObjectStore, plugin or volumeSnapshot backup."),
    };

    private static string? Str(JsonObject o, string key) => o[key] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s : null;

    private static DateTimeOffset? Time(JsonNode? n) =>
        n is JsonValue v && v.TryGetValue<string>(out var s) && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t) ? t : null;
}
