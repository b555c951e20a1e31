using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;
using RestoreOps.Processes;

namespace RestoreOps.Local;

/// <summary>
/// A PostgreSQL server process this RestoreOps run started and owns: listening on 127.0.0.1 and a private
/// unix socket directory only, run as an unprivileged OS account, logging outside its data directory.
/// </summary>
/// <example>
/// <code>
/// var pg = await LocalInstance.InitializeAsync(binaries, OsAccount.ForPostgres(), "/tmp/work", "postgres", ct);
/// await pg.StartAsync(new Dictionary&lt;string, string&gt;(), null, ct);
/// await pg.WaitForConnectionsAsync(TimeSpan.FromSeconds(30), ct);
/// await pg.StopAsync();
/// </code>
/// </example>
internal sealed class LocalInstance : IAsyncDisposable
{
    private Process? _process;

    /// <summary>Describes an instance whose directories already exist (created by <see cref="InitializeAsync"/> or a restore).</summary>
    public LocalInstance(PostgresBinaries binaries, OsAccount account, string dataDirectory, string socketDirectory, string logFile, int port, string superuser)
    {
        Binaries = binaries;
        Account = account;
        DataDirectory = dataDirectory;
        SocketDirectory = socketDirectory;
        LogFile = logFile;
        Port = port;
        Superuser = superuser;
    }

    /// <summary>Server binaries.</summary>
    public PostgresBinaries Binaries { get; }
    /// <summary>The OS account the server runs as.</summary>
    public OsAccount Account { get; }
    /// <summary>PGDATA.</summary>
    public string DataDirectory { get; }
    /// <summary>Private unix socket directory (mode 0700).</summary>
    public string SocketDirectory { get; }
    /// <summary>Server log (stderr), outside PGDATA so it never ends up in a backup.</summary>
    public string LogFile { get; }
    /// <summary>TCP port on 127.0.0.1; also names the socket file.</summary>
    public int Port { get; }
    /// <summary>The superuser role used for RestoreOps' own connections.</summary>
    public string Superuser { get; }
    /// <summary>The postmaster's pid while it runs.</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;
    /// <summary>The postmaster's pid, kept after it exits (for checks that it is really gone).</summary>
    public int? LastProcessId { get; private set; }
    /// <summary>True while the postmaster runs.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Completes when the postmaster exits (never, if it was not started).</summary>
    public Task Exited { get; private set; } = new TaskCompletionSource().Task;

    /// <summary>
    /// Creates the directory layout under <paramref name="workDirectory"/> (data, run, log) and runs initdb:
    /// trust on the private unix socket, scram-sha-256 on 127.0.0.1.
    /// </summary>
    public static async Task<LocalInstance> InitializeAsync(PostgresBinaries binaries, OsAccount account, string workDirectory,
        string superuser, CancellationToken cancellationToken)
    {
        var layout = CreateLayout(account, workDirectory);
        var result = await CommandRunner.RunAsync(binaries.Tool("initdb"),
            ["-D", layout.Data, "-U", superuser, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"],
            account, MinimalEnvironment(account), cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new InfrastructureException($"initdb for {layout.Data} failed (exit {result.ExitCode}): {result.Tail()}",
                $"Check that {account.Name} can write to {workDirectory} and that the disk has space.");
        return new LocalInstance(binaries, account, layout.Data, layout.Run, layout.Log, FreeLoopbackPort(), superuser);
    }

    /// <summary>Creates data (0700), run (0700) and log directories owned by the account.</summary>
    public static (string Data, string Run, string Log) CreateLayout(OsAccount account, string workDirectory)
    {
        // 0700: everything below (data, spooled WAL, logs) is the backed-up database's content; no other
        // local user may read it, whatever the modes of the files inside.
        const UnixFileMode priv = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        account.CreateDirectory(workDirectory, priv);
        var data = account.CreateDirectory(Path.Combine(workDirectory, "data"), priv);
        var run = Path.Combine(workDirectory, "run");
        // A unix socket path is limited to 107 bytes; a deep work directory gets a short private one instead.
        if (System.Text.Encoding.UTF8.GetByteCount(run + "/.s.PGSQL.65535") > 107)
            run = Path.Combine(Directory.Exists("/tmp") ? "/tmp" : Path.GetTempPath(), ExternalSocketPrefix + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6)).ToLowerInvariant());
        account.CreateDirectory(run, priv);
        var log = account.CreateDirectory(Path.Combine(workDirectory, "log"), priv);
        return (data, run, Path.Combine(log, "postgres.log"));
    }

    internal const string ExternalSocketPrefix = "restoreops-sock-";

    /// <summary>Deletes the socket directory when it lives outside the work directory (see <see cref="CreateLayout"/>).</summary>
    internal string? DeleteExternalSocketDirectory()
    {
        if (!Path.GetFileName(SocketDirectory).StartsWith(ExternalSocketPrefix, StringComparison.Ordinal) || !Directory.Exists(SocketDirectory))
            return null;
        Directory.Delete(SocketDirectory, recursive: true);
        return $"directory {SocketDirectory}";
    }

    /// <summary>
    /// A port on 127.0.0.1 nobody listens on right now and no other instance of this process was given: reserved until
    /// the instance that uses it stops (<see cref="StopAsync"/>, <see cref="DisposeAsync"/>).
    /// </summary>
    /// <exception cref="InfrastructureException">No port could be reserved.</exception>
    public static int FreeLoopbackPort() => ReservePort(OsFreeLoopbackPort);

    // Ports handed out and not yet released. The OS knows a port is taken only once PostgreSQL binds it, seconds after
    // it was picked: until then it hands the same port to the next asker, and of two drills started together the
    // second server would fail to bind.
    private static readonly HashSet<int> ReservedPorts = [];

    /// <summary>The reservation behind <see cref="FreeLoopbackPort"/>, with the OS's pick replaceable for tests.</summary>
    internal static int ReservePort(Func<int> pick)
    {
        const int attempts = 100;
        for (var i = 0; i < attempts; i++)
        {
            var port = pick();
            lock (ReservedPorts)
                if (ReservedPorts.Add(port)) return port;
        }
        throw new InfrastructureException($"No free TCP port on 127.0.0.1 could be reserved in {attempts} attempts: every port the OS offered was already reserved for another restore of this process.",
            "Remove restore targets this session no longer needs (Remove-RestoreCluster, restoreops targets remove), or run fewer drills at once.");
    }

    /// <summary>Ends the reservation of <paramref name="port"/>, so a later instance may be given it.</summary>
    internal static void ReleasePort(int port)
    {
        lock (ReservedPorts) ReservedPorts.Remove(port);
    }

    /// <summary>True while <paramref name="port"/> is reserved for an instance of this process.</summary>
    internal static bool IsPortReserved(int port)
    {
        lock (ReservedPorts) return ReservedPorts.Contains(port);
    }

    private int _portReleased;

    // Once only: after the first release the port may already be another instance's, and a second stop or the
    // disposal after a removal must not end that one's reservation.
    private void ReleaseOwnPort()
    {
        if (Interlocked.Exchange(ref _portReleased, 1) == 0) ReleasePort(Port);
    }

    private static int OsFreeLoopbackPort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    internal static Dictionary<string, string?> MinimalEnvironment(OsAccount account)
    {
        // The server and its restore_command see none of RestoreOps' own environment: no object-store
        // secrets in /proc/<pid>/environ of processes another account owns.
        var env = new Dictionary<string, string?>();
        foreach (var key in Environment.GetEnvironmentVariables().Keys.Cast<string>())
            env[key] = null;
        env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
        env["HOME"] = account.Home;
        env["LANG"] = "C.UTF-8";
        env["LC_ALL"] = "C.UTF-8";
        return env;
    }

    /// <summary>
    /// Starts the postmaster directly (no pg_ctl: it reports "started" at consistency, long before a restore
    /// is usable, and hides the process). <paramref name="settings"/> go on the command line, which beats
    /// postgresql.conf and postgresql.auto.conf alike.
    /// </summary>
    /// <remarks>Settings are applied in order; some (the recovery targets) depend on it.</remarks>
    public Task StartAsync(IEnumerable<KeyValuePair<string, string>> settings, IReadOnlyDictionary<string, string?>? environment, CancellationToken cancellationToken)
    {
        if (IsRunning) throw new InvalidOperationException("The instance is already running.");
        var all = new List<KeyValuePair<string, string>>
        {
            new("listen_addresses", "127.0.0.1"),
            new("port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new("unix_socket_directories", SocketDirectory),
            new("logging_collector", "off"),
            new("log_destination", "stderr"),
        };
        all.AddRange(settings);

        var args = new List<string> { "-c", "exec \"$0\" \"$@\" >>\"$RESTOREOPS_LOG\" 2>&1 </dev/null", Binaries.Tool("postgres"), "-D", DataDirectory };
        foreach (var (k, v) in all) { args.Add("-c"); args.Add($"{k}={v}"); }

        var env = MinimalEnvironment(Account);
        env["RESTOREOPS_LOG"] = LogFile;
        if (environment is not null) foreach (var (k, v) in environment) env[k] = v;

        var psi = CommandRunner.CreateStartInfo("/bin/sh", args, Account, env, DataDirectory);
        // setsid: a Ctrl+C in the user's terminal reaches RestoreOps, which shuts the server down in order,
        // instead of reaching the server directly.
        psi.ArgumentList.Insert(0, psi.FileName);
        psi.FileName = "setsid";
        cancellationToken.ThrowIfCancellationRequested();
        _process = CommandRunner.Start(psi, "PostgreSQL");
        LastProcessId = _process.Id;
        Exited = _process.WaitForExitAsync(CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Connection settings for RestoreOps' own sessions: the private unix socket, no password needed.</summary>
    public NpgsqlConnectionStringBuilder ConnectionString(string database = "postgres") => new()
    {
        Host = SocketDirectory,
        Port = Port,
        Username = Superuser,
        Database = database,
        Pooling = false,
        Timeout = 5,
        CommandTimeout = 30,
        ApplicationName = "restoreops",
        Options = LocalRestore.SessionOverrides,
    };

    private long _logOffset;
    private string _logCarry = "";
    private readonly HashSet<string> _logMarkersSeen = new(StringComparer.Ordinal);

    /// <summary>Server log lines that say what state the server is in.</summary>
    internal static class LogMarker
    {
        public const string ReadOnlyReady = "database system is ready to accept read-only connections";
        public const string Ready = "database system is ready to accept connections";
    }

    /// <summary>
    /// True once the server has logged <paramref name="marker"/>. Reads only what was appended since the last
    /// call, so watching a long replay's log stays cheap. Connecting before the server says it is ready would
    /// only fill its log with "not yet accepting connections" errors that bury the real diagnosis.
    /// </summary>
    internal bool HasLogged(string marker)
    {
        if (_logMarkersSeen.Contains(marker)) return true;
        try
        {
            using var f = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (f.Length > _logOffset)
            {
                f.Seek(_logOffset, SeekOrigin.Begin);
                using var reader = new StreamReader(f);
                var text = _logCarry + reader.ReadToEnd();
                _logOffset = f.Length;
                foreach (var m in new[] { LogMarker.ReadOnlyReady, LogMarker.Ready })
                    if (text.Contains(m, StringComparison.Ordinal)) _logMarkersSeen.Add(m);
                // Keep the unfinished last line: a marker may be split across two reads.
                _logCarry = text[(text.LastIndexOf('\n') + 1)..];
            }
        }
        catch (FileNotFoundException) { }
        catch (DirectoryNotFoundException) { }
        return _logMarkersSeen.Contains(marker);
    }

    /// <summary>Runs SQL in <paramref name="database"/> over RestoreOps' private socket.</summary>
    public async Task ExecuteAsync(string database, string sql, CancellationToken cancellationToken, int commandTimeoutSeconds = 30)
    {
        await using var c = new NpgsqlConnection(ConnectionString(database).ConnectionString);
        await c.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand(sql, c) { CommandTimeout = commandTimeoutSeconds };
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs a query in <paramref name="database"/> and returns its first value.</summary>
    public async Task<object?> ScalarAsync(string database, string sql, CancellationToken cancellationToken, int commandTimeoutSeconds = 30)
    {
        await using var c = new NpgsqlConnection(ConnectionString(database).ConnectionString);
        await c.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand(sql, c) { CommandTimeout = commandTimeoutSeconds };
        return await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits until the server accepts connections, failing fast (with the log's tail) if it exits.</summary>
    public async Task WaitForConnectionsAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        await PollAsync(async ct =>
        {
            if (!HasLogged(LogMarker.Ready)) return false;
            await using var c = new NpgsqlConnection(ConnectionString().ConnectionString);
            await c.OpenAsync(ct).ConfigureAwait(false);
            return true;
        }, timeout, "accept connections", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Repeats <paramref name="attempt"/> until it returns true, the server exits, the timeout passes or the
    /// work is cancelled. Failed attempts (server still starting) are expected and retried.
    /// </summary>
    internal async Task PollAsync(Func<CancellationToken, Task<bool>> attempt, TimeSpan timeout, string goal, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(20);
        Exception? last = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Exited.IsCompleted)
                throw new RestoreFailedException(
                    $"PostgreSQL exited (code {_process?.ExitCode}) before it could {goal}.",
                    "The server log below names the cause.", details: "Server log (last lines):\n" + LogTail());
            try
            {
                if (await attempt(cancellationToken).ConfigureAwait(false)) return;
            }
            catch (Exception e) when (e is NpgsqlException or IOException or SocketException or TimeoutException)
            {
                last = e;
            }
            if (deadline.Elapsed > timeout)
                throw new RestoreFailedException(
                    $"PostgreSQL did not {goal} within {timeout.TotalSeconds:0} s (last error: {last?.Message ?? "none"}).",
                    "Raise the timeout if replay was still progressing; otherwise the server log below names the cause.",
                    details: "Server log (last lines):\n" + LogTail());
            // Wake on server exit too, so a crash is reported at once rather than after the delay.
            await Task.WhenAny(Task.Delay(delay, cancellationToken), Exited).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 1.5, 250));
        }
    }

    /// <summary>The last lines of the server log.</summary>
    public string LogTail(int lines = 25)
    {
        try
        {
            if (!File.Exists(LogFile)) return "(no server log was written)";
            var all = File.ReadAllLines(LogFile);
            return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
        }
        catch (IOException e)
        {
            return $"(server log unreadable: {e.Message})";
        }
    }

    /// <summary>
    /// Stops the server: fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL if it still will not go.
    /// Returns what it had to do.
    /// </summary>
    public async Task<string?> StopAsync(TimeSpan? grace = null)
    {
        if (_process is null || _process.HasExited)
        {
            ReleaseOwnPort();
            return null;
        }
        var pid = _process.Id;
        var wait = grace ?? TimeSpan.FromSeconds(30);
        foreach (var (signal, name) in new[] { (Native.SIGINT, "fast shutdown"), (Native.SIGQUIT, "immediate shutdown"), (Native.SIGKILL, "kill") })
        {
            Native.Signal(pid, signal);
            if (await Task.WhenAny(Exited, Task.Delay(wait)).ConfigureAwait(false) == Exited)
            {
                ReleaseOwnPort();
                return $"postgres pid {pid} stopped ({name})";
            }
            wait = TimeSpan.FromSeconds(10);
        }
        // Still reserved: the server that would not die may still hold the port.
        return $"postgres pid {pid} did not exit after SIGKILL";
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        DeleteExternalSocketDirectory();
        _process?.Dispose();
    }
}
