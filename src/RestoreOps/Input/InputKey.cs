namespace RestoreOps;

/// <summary>
/// An input a user gives through a front end, named by what it is rather than by how one front end spells it. The
/// engine's messages refer to inputs by key (see <see cref="InputKeys.Ref"/>); each front end renders the key in its own
/// spelling (<c>--endpoint-url</c> for the CLI, <c>-EndpointUrl</c> for PowerShell), so neither names a parameter the
/// other does not have.
/// </summary>
public enum InputKey
{
    /// <summary>The Barman Cloud destination path, <c>s3://bucket/path</c>.</summary>
    DestinationPath,
    /// <summary>The Barman server name: the folder under the destination path.</summary>
    ServerName,
    /// <summary>A backup's id in a Barman catalogue.</summary>
    BackupId,
    /// <summary>The S3-compatible endpoint URL.</summary>
    EndpointUrl,
    /// <summary>The object store region.</summary>
    Region,
    /// <summary>The object store access key id.</summary>
    AccessKeyId,
    /// <summary>The object store secret access key (PowerShell: in the credential; the CLI reads it only from the environment).</summary>
    SecretAccessKey,
    /// <summary>A <c>pg_basebackup -Ft</c> directory to restore.</summary>
    BaseBackup,
    /// <summary>A <c>pg_dump -Fc</c> file to restore.</summary>
    Dump,
    /// <summary>The WAL archive directory of a local base backup.</summary>
    WalArchive,
    /// <summary>The directory of the PostgreSQL binaries.</summary>
    PostgresBinDirectory,
    /// <summary>The OS account that runs PostgreSQL when RestoreOps runs as root.</summary>
    OsUser,
    /// <summary>The parent directory of local restores' work directories.</summary>
    WorkRoot,
    /// <summary>How long a restore may take to become ready.</summary>
    Timeout,
    /// <summary>How many WAL files are fetched at once.</summary>
    WalParallelism,
    /// <summary>How many WAL segments are fetched ahead of the one replay asked for.</summary>
    WalWindow,
    /// <summary>The longest wait for the next bytes of an object-store read.</summary>
    ReadTimeout,
    /// <summary>The kubeconfig file(s).</summary>
    Kubeconfig,
    /// <summary>The kubeconfig context.</summary>
    Context,
    /// <summary>The namespace of the CNPG cluster and backups to read.</summary>
    Namespace,
    /// <summary>The namespace a CNPG recovery Cluster is created in.</summary>
    DrillNamespace,
    /// <summary>The CNPG cluster whose backups are used.</summary>
    CnpgCluster,
    /// <summary>The name of one CNPG <c>Backup</c> resource.</summary>
    BackupName,
    /// <summary>The name the user gives a restore target (not a recovery target's restore point name).</summary>
    RestoreTargetName,
    /// <summary>Restore into a local instance instead of a CNPG recovery Cluster.</summary>
    Local,
    /// <summary>The drill id.</summary>
    DrillId,
    /// <summary>RPO objective: the newest backup's maximum age.</summary>
    MaxBackupAge,
    /// <summary>RPO objective: the restored data's maximum age.</summary>
    MaxDataAge,
    /// <summary>RTO objective: the restore's maximum duration.</summary>
    MaxRestoreTime,
    /// <summary>How old a source's last passed drill may be before it is stale.</summary>
    StaleAfter,
    /// <summary>Rows one transaction must delete or update in one relation to be listed as a recovery point.</summary>
    MinimumRows,
    /// <summary>The start of a time window.</summary>
    From,
    /// <summary>The end of a time window.</summary>
    To,
    /// <summary>The evidence folder a drill writes its records to.</summary>
    EvidencePath,
    /// <summary>The environment variable holding the key that signs records.</summary>
    SigningKeyVariable,
    /// <summary>The environment variable holding the key that verifies a record's signature.</summary>
    VerifyKeyVariable,
    /// <summary>The sweep that removes drill targets past their expiry.</summary>
    Orphaned,
    /// <summary>A Barman Cloud plugin ObjectStore already in the drill namespace, used instead of copies of the source's.</summary>
    ObjectStore,
    /// <summary>How checks reach a CNPG recovery cluster: its <c>-rw</c> Service or a port-forward.</summary>
    Connect,
    /// <summary>How an on-demand CNPG backup is taken (barmanObjectStore, plugin, volumeSnapshot).</summary>
    BackupMethod,
}

/// <summary>Whose spelling a message names inputs in.</summary>
public enum InputSpelling
{
    /// <summary>No front end: inputs are named in words ("the object store region").</summary>
    Neutral,
    /// <summary>The <c>restoreops</c> command line: <c>--endpoint-url</c>.</summary>
    Cli,
    /// <summary>The PowerShell module: <c>-EndpointUrl</c>.</summary>
    PowerShell,
}

/// <summary>
/// How each <see cref="InputKey"/> is spelled by each front end, and the rendering of messages that refer to keys.
/// A front end without a matching input has none here: its messages then name the input in words.
/// </summary>
/// <example>
/// <code>
/// throw new ConfigurationException($"No region for {bucket}.", $"Pass {InputKey.Region.Ref()} or set AWS_REGION.", parameter: InputKey.Region);
/// // CLI: "Pass --region or set AWS_REGION."   PowerShell: "Pass -Region or set AWS_REGION."
/// </code>
/// </example>
public static class InputKeys
{
    // Private-use characters: they cannot come from a keyboard by accident, and a message still reads if one is
    // printed unrendered.
    private const char Open = '\uE000';
    private const char Close = '\uE001';

    private static readonly Dictionary<string, InputKey> ByName = Enum.GetValues<InputKey>().ToDictionary(k => k.ToString(), StringComparer.Ordinal);

    /// <summary>Every key with its words, its CLI option (null: none) and its PowerShell parameter without the dash (null: none).</summary>
    public static IReadOnlyDictionary<InputKey, (string Words, string? Cli, string? PowerShell)> All { get; } = new Dictionary<InputKey, (string, string?, string?)>
    {
        [InputKey.DestinationPath] = ("the Barman destination path", "--source", "DestinationPath"),
        [InputKey.ServerName] = ("the Barman server name", "--server-name", "ServerName"),
        [InputKey.BackupId] = ("the backup id", "--backup-id", "BackupId"),
        [InputKey.EndpointUrl] = ("the object store endpoint URL", "--endpoint-url", "EndpointUrl"),
        [InputKey.Region] = ("the object store region", "--region", "Region"),
        [InputKey.AccessKeyId] = ("the access key id", "--access-key-id", "Credential"),
        // The CLI takes the secret only from AWS_SECRET_ACCESS_KEY: on a command line it would show in ps.
        [InputKey.SecretAccessKey] = ("the secret access key", null, "Credential"),
        [InputKey.BaseBackup] = ("the base backup directory", "--base-backup", "Path"),
        [InputKey.Dump] = ("the dump file", "--dump", "Path"),
        [InputKey.WalArchive] = ("the WAL archive directory", "--wal-archive", "WalPath"),
        [InputKey.PostgresBinDirectory] = ("the PostgreSQL binaries directory", "--pg-bin", "PostgresBinDirectory"),
        [InputKey.OsUser] = ("the OS user", "--os-user", "OsUser"),
        [InputKey.WorkRoot] = ("the work directory", "--work-dir", "WorkRoot"),
        [InputKey.Timeout] = ("the timeout", "--timeout", "Timeout"),
        // PowerShell leaves the prefetch width at its default.
        [InputKey.WalParallelism] = ("the WAL parallelism", "--wal-parallelism", null),
        // Like the parallelism, PowerShell leaves the window at its default.
        [InputKey.WalWindow] = ("the WAL window", "--wal-window", null),
        // PowerShell has no parameter for it yet: its reads use the default.
        [InputKey.ReadTimeout] = ("the object store read timeout", "--read-timeout", null),
        [InputKey.Kubeconfig] = ("the kubeconfig", "--kubeconfig", "Kubeconfig"),
        [InputKey.Context] = ("the kubeconfig context", "--context", "Context"),
        [InputKey.Namespace] = ("the namespace", "--namespace", "Namespace"),
        [InputKey.DrillNamespace] = ("the drill namespace", "--drill-namespace", "Namespace"),
        [InputKey.CnpgCluster] = ("the CNPG cluster", "--cnpg-cluster", "Cluster"),
        [InputKey.BackupName] = ("the CNPG Backup's name", "--backup-name", "Name"),
        // The CLI names a drill's target after its drill id; only PowerShell lets the user pick the name.
        [InputKey.RestoreTargetName] = ("the target's name", "--name", "Name"),
        // The CLI's CNPG drills are CNPG restores throughout; a local restore is chosen by the source there.
        [InputKey.Local] = ("a local restore", null, "Local"),
        [InputKey.DrillId] = ("the drill id", "--drill-id", "DrillId"),
        [InputKey.MaxBackupAge] = ("the backup age objective", "--max-backup-age", "MaxBackupAge"),
        [InputKey.MaxDataAge] = ("the data age objective", "--max-data-age", "MaxDataAge"),
        [InputKey.MaxRestoreTime] = ("the restore time objective", "--max-restore-time", "MaxRestoreTime"),
        [InputKey.StaleAfter] = ("the staleness limit", "--stale-after", "StaleAfter"),
        [InputKey.MinimumRows] = ("the row threshold", "--min-rows", "MinimumRows"),
        [InputKey.From] = ("the window's start", "--from", "From"),
        [InputKey.To] = ("the window's end", "--to", "To"),
        [InputKey.EvidencePath] = ("the evidence folder", "--evidence", "EvidencePath"),
        [InputKey.SigningKeyVariable] = ("the signing key variable", "--sign-key-env", "SigningKeyVariable"),
        // Records are verified by the CLI; the module checks digests as it reads history, without a key of its own.
        [InputKey.VerifyKeyVariable] = ("the verification key variable", "--key-env", null),
        // A sweep is a command of its own in the CLI (targets sweep), a switch of Remove-RestoreCluster in PowerShell.
        [InputKey.Orphaned] = ("the sweep of expired targets", null, "Orphaned"),
        [InputKey.ObjectStore] = ("the drill namespace's ObjectStore", "--object-store", "ObjectStore"),
        [InputKey.Connect] = ("the connection route", "--connect", "Connect"),
        [InputKey.BackupMethod] = ("the backup method", "--method", "Method"),
    };

    /// <summary>
    /// A reference to <paramref name="key"/> for a message or fix: rendered as the front end's spelling of it, or in
    /// words where it has none. Write it where a noun phrase fits: <c>$"Pass {InputKey.Region.Ref()} or set AWS_REGION."</c>
    /// </summary>
    public static string Ref(this InputKey key) => $"{Open}{key}{Close}";

    /// <summary>How <paramref name="spelling"/> names <paramref name="key"/>: <c>--region</c>, <c>-Region</c>, or its words.</summary>
    public static string Name(InputKey key, InputSpelling spelling)
    {
        var (words, cli, powershell) = All[key];
        return spelling switch
        {
            InputSpelling.Cli when cli is not null => cli,
            InputSpelling.PowerShell when powershell is not null => "-" + powershell,
            _ => words,
        };
    }

    /// <summary>True when <paramref name="spelling"/> has a parameter for <paramref name="key"/>.</summary>
    public static bool Exists(InputKey key, InputSpelling spelling) => spelling switch
    {
        InputSpelling.Cli => All[key].Cli is not null,
        InputSpelling.PowerShell => All[key].PowerShell is not null,
        _ => false,
    };

    /// <summary><paramref name="text"/> with every key reference rendered in <paramref name="spelling"/>; null stays null.</summary>
    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(text))]
    public static string? Render(string? text, InputSpelling spelling)
    {
        if (text is null || text.IndexOf(Open, StringComparison.Ordinal) < 0) return text;
        var sb = new System.Text.StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            var open = text.IndexOf(Open, i);
            var close = open < 0 ? -1 : text.IndexOf(Close, open + 1);
            if (open < 0 || close < 0)
            {
                sb.Append(text, i, text.Length - i);
                break;
            }
            sb.Append(text, i, open - i);
            var name = text.Substring(open + 1, close - open - 1);
            // Anything that is not a key (a user's value that happens to hold the markers) is dropped of its markers.
            sb.Append(ByName.TryGetValue(name, out var key) ? Name(key, spelling) : name);
            i = close + 1;
        }
        return sb.ToString();
    }

    /// <summary>The keys <paramref name="text"/> refers to, in order of first mention.</summary>
    public static IReadOnlyList<InputKey> Referenced(string? text)
    {
        var keys = new List<InputKey>();
        if (text is null) return keys;
        for (var open = text.IndexOf(Open, StringComparison.Ordinal); open >= 0; open = text.IndexOf(Open, open + 1))
        {
            var close = text.IndexOf(Close, open + 1);
            if (close < 0) break;
            var name = text.Substring(open + 1, close - open - 1);
            if (ByName.TryGetValue(name, out var key) && !keys.Contains(key)) keys.Add(key);
        }
        return keys;
    }
}
