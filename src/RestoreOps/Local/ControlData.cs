using System.Globalization;
using RestoreOps.Processes;

namespace RestoreOps.Local;

/// <summary>
/// The parts of <c>pg_controldata</c> a restore needs: the source's settings that a hot standby must match or
/// exceed, or recovery stops with "insufficient parameter settings".
/// </summary>
internal sealed class ControlData
{
    private readonly Dictionary<string, string> _values;

    private ControlData(Dictionary<string, string> values) => _values = values;

    /// <summary>A raw value by its pg_controldata label, e.g. <c>max_connections setting</c>.</summary>
    public string? this[string label] => _values.GetValueOrDefault(label);

    /// <summary>An integer value, or null.</summary>
    public int? Integer(string label) =>
        int.TryParse(this[label], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;

    /// <summary>Reads the control file of <paramref name="dataDirectory"/>.</summary>
    public static async Task<ControlData> ReadAsync(PostgresBinaries binaries, OsAccount account, string dataDirectory, CancellationToken cancellationToken)
    {
        var r = await CommandRunner.RunAsync(binaries.Tool("pg_controldata"), ["-D", dataDirectory], account,
            LocalInstance.MinimalEnvironment(account), cancellationToken).ConfigureAwait(false);
        if (r.ExitCode != 0)
            throw new RestoreFailedException($"pg_controldata could not read the restored control file (global/pg_control): {r.Tail()}",
                "The base backup is incomplete or from another PostgreSQL major version.");
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in r.StandardOutput.Split('\n'))
        {
            var colon = line.IndexOf(':');
            if (colon > 0) values[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        return new ControlData(values);
    }

    /// <summary>
    /// Settings the restored server must run with: at least the source's values for the parameters a hot
    /// standby checks, so a source tuned above the defaults still replays.
    /// </summary>
    public IEnumerable<KeyValuePair<string, string>> StandbyMinimums()
    {
        (string Setting, string Label, int Default)[] checks =
        [
            ("max_connections", "max_connections setting", 100),
            ("max_worker_processes", "max_worker_processes setting", 8),
            ("max_wal_senders", "max_wal_senders setting", 10),
            ("max_prepared_transactions", "max_prepared_xacts setting", 0),
            ("max_locks_per_transaction", "max_locks_per_xact setting", 64),
        ];
        foreach (var (setting, label, fallback) in checks)
            yield return new(setting, Math.Max(Integer(label) ?? fallback, fallback).ToString(CultureInfo.InvariantCulture));
    }
}
