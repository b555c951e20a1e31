using System.Globalization;
using System.Text.RegularExpressions;

namespace RestoreOps.Processes;

/// <summary>
/// A directory of PostgreSQL server binaries of one major version. A restore must use the backup's major
/// version: PostgreSQL cannot read another major's data directory.
/// </summary>
internal sealed partial class PostgresBinaries
{
    private PostgresBinaries(string directory, int major, string version)
    {
        Directory = directory;
        MajorVersion = major;
        Version = version;
    }

    /// <summary>Directory holding postgres, initdb, pg_ctl, pg_controldata, pg_restore….</summary>
    public string Directory { get; }
    /// <summary>Major version, e.g. 15.</summary>
    public int MajorVersion { get; }
    /// <summary>Full version text, e.g. 15.18.</summary>
    public string Version { get; }

    /// <summary>Full path of a tool in this directory.</summary>
    public string Tool(string name) => Path.Combine(Directory, name);

    /// <summary>
    /// Finds binaries of <paramref name="major"/> (or the newest found when null). Uses <paramref name="explicitDirectory"/>
    /// when given, and nothing else; otherwise looks in <c>PG_BIN</c>, then PATH, then the distributions' usual places.
    /// </summary>
    /// <exception cref="ConfigurationException"><paramref name="explicitDirectory"/> holds no working postgres, or one of another major version.</exception>
    /// <exception cref="InfrastructureException">No directory searched holds the binaries.</exception>
    public static async Task<PostgresBinaries> FindAsync(int? major, string? explicitDirectory, CancellationToken cancellationToken)
    {
        if (explicitDirectory is not null) return await FromExplicitAsync(major, explicitDirectory, cancellationToken).ConfigureAwait(false);
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("PG_BIN") is { Length: > 0 } pgBin) candidates.Add(pgBin);
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var postgres = Path.Combine(dir, "postgres");
            if (!File.Exists(postgres)) continue;
            // /usr/local/bin often holds a symlink to one tool only; its siblings live beside the target.
            var resolved = File.ResolveLinkTarget(postgres, returnFinalTarget: true)?.FullName ?? postgres;
            candidates.Add(Path.GetDirectoryName(resolved)!);
        }
        var versions = major is { } m ? [m] : KnownMajors();
        foreach (var v in versions)
        {
            candidates.Add($"/usr/lib/postgresql/{v}/bin");
            candidates.Add($"/usr/pgsql-{v}/bin");
            candidates.Add($"/opt/homebrew/opt/postgresql@{v}/bin");
            candidates.Add($"/usr/local/opt/postgresql@{v}/bin");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var found = new List<PostgresBinaries>();
        foreach (var dir in candidates)
        {
            if (!seen.Add(dir) || !File.Exists(Path.Combine(dir, "postgres"))) continue;
            var probe = await ProbeAsync(dir, cancellationToken).ConfigureAwait(false);
            if (probe is null) continue;
            if (major is null || probe.MajorVersion == major) found.Add(probe);
            if (major is not null && probe.MajorVersion == major) break;
        }

        var best = found.OrderByDescending(b => b.MajorVersion).FirstOrDefault();
        if (best is not null) return best;
        var wanted = major is null ? "PostgreSQL server binaries" : $"PostgreSQL {major} server binaries";
        throw new InfrastructureException(
            $"{wanted} were not found (looked in: {string.Join(", ", seen)}).",
            major is null
                ? "Install the PostgreSQL server (Debian: apt-get install postgresql-15) or set PG_BIN to the directory holding postgres."
                : $"Install PostgreSQL {major} (Debian: apt-get install postgresql-{major}) or set PG_BIN / {InputKey.PostgresBinDirectory.Ref()} to the directory holding its postgres; a restore needs the backup's major version.");
    }

    /// <summary>
    /// A directory the user named is a promise: falling back to other binaries would restore with a PostgreSQL nobody
    /// chose, or fail far from the real cause.
    /// </summary>
    private static async Task<PostgresBinaries> FromExplicitAsync(int? major, string directory, CancellationToken cancellationToken)
    {
        var dir = InputPaths.Absolute(directory, InputKey.PostgresBinDirectory)!;
        var fix = $"Point {InputKey.PostgresBinDirectory.Ref()} at the bin directory of the backup's PostgreSQL major version, e.g. /usr/lib/postgresql/15/bin, or leave it out to search PG_BIN, PATH and the usual places.";
        if (!File.Exists(Path.Combine(dir, "postgres")))
            throw new ConfigurationException($"The PostgreSQL binaries directory {dir} {(System.IO.Directory.Exists(dir) ? "has no postgres program" : "does not exist")}.", fix);
        var probe = await ProbeAsync(dir, cancellationToken).ConfigureAwait(false)
            ?? throw new ConfigurationException($"{Path.Combine(dir, "postgres")} does not run or does not report a PostgreSQL version (postgres --version).", fix);
        if (major is { } wanted && probe.MajorVersion != wanted)
            throw new ConfigurationException(
                $"The PostgreSQL binaries directory {dir} holds PostgreSQL {probe.Version}, but the backup needs major version {wanted}: PostgreSQL cannot read another major version's data directory.", fix);
        return probe;
    }

    private static IEnumerable<int> KnownMajors() => Enumerable.Range(10, 10).Reverse();

    private static async Task<PostgresBinaries?> ProbeAsync(string dir, CancellationToken cancellationToken)
    {
        try
        {
            var r = await CommandRunner.RunAsync(Path.Combine(dir, "postgres"), ["--version"], null, null, cancellationToken).ConfigureAwait(false);
            var m = VersionPattern().Match(r.StandardOutput);
            if (r.ExitCode != 0 || !m.Success) return null;
            return new PostgresBinaries(dir, int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), m.Groups[0].Value.Split(' ')[^1]);
        }
        catch (InfrastructureException)
        {
            return null;
        }
    }

    [GeneratedRegex(@"\(PostgreSQL\) (\d+)(?:\.\d+)?")]
    private static partial Regex VersionPattern();

    /// <inheritdoc />
    public override string ToString() => $"PostgreSQL {Version} ({Directory})";
}
