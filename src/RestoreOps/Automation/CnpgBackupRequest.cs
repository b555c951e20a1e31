namespace RestoreOps.Automation;

/// <summary>An on-demand backup of a CNPG cluster: what New-CnpgBackup and <c>restoreops backups create</c> take.</summary>
/// <example>
/// <code>
/// var backup = await engine.NewCnpgBackupAsync(new CnpgBackupRequest { Namespace = "prod", Cluster = "app-db", Wait = true }, progress, ct);
/// var cluster = await engine.NewAsync(new RestoreRequest { Backup = backup, Namespace = "drills" }, ct);
/// </code>
/// </example>
public sealed class CnpgBackupRequest
{
    /// <summary>The CNPG cluster to back up.</summary>
    public required string Cluster { get; init; }
    /// <summary>Its namespace (null: the context's).</summary>
    public string? Namespace { get; init; }
    /// <summary><c>barmanObjectStore</c>, <c>plugin</c> or <c>volumeSnapshot</c>; null: the way the cluster is configured.</summary>
    public string? Method { get; init; }
    /// <summary>Wait (by watching) until the backup completed or failed; otherwise return as soon as it is created.</summary>
    public bool Wait { get; init; }
    /// <summary>How long <see cref="Wait"/> waits before the backup counts as failed.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(30);
    /// <summary>Which API to use.</summary>
    public KubernetesAccess Kubernetes { get; init; } = KubernetesAccess.Default;
}
