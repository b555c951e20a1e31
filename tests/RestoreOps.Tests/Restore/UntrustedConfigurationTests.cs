using System.Formats.Tar;
using Npgsql;
using RestoreOps.Backups;
using RestoreOps.Checks;
using RestoreOps.Automation;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Processes;
using RestoreOps.Tests.Fixtures;
using Xunit;

namespace RestoreOps.Tests.Restore;

/// <summary>
/// A backup's configuration is data from the machine it came from, not instructions for the drill host. Each test plants
/// one mechanism that runs a program or loads code into a real pg_basebackup, the way a compromised source would
/// (ALTER SYSTEM, ALTER ROLE … SET, a file beside postgresql.auto.conf), restores it, and proves nothing ran or loaded.
/// </summary>
[Collection("backups")]
public sealed class UntrustedConfigurationTests(BackupFixtures fx) : IAsyncLifetime
{
    private string _root = "";
    private string _marks = "";
    private string _backup = "";
    private string _backupWithCatalogueSettings = "";

    /// <summary>A file the planted commands would create: "ran-NAME".</summary>
    private string Mark(string name) => Path.Combine(_marks, "ran-" + name);

    public async Task InitializeAsync()
    {
        _root = Path.Combine(fx.WorkRoot, $"hostile-{Guid.NewGuid():N}"[..22]);
        fx.Account.CreateDirectory(_root, (UnixFileMode)0b111_101_101);
        // Writable by the instance's account, so a command that did run would leave its mark.
        _marks = fx.Account.CreateDirectory(Path.Combine(_root, "marks"), (UnixFileMode)0b111_111_111);
        _backup = Path.Combine(_root, "backup");
        _backupWithCatalogueSettings = Path.Combine(_root, "backup-catalogue");
        var source = await LocalInstance.InitializeAsync(fx.Binaries, fx.Account, Path.Combine(_root, "source"), "postgres", default);
        await source.StartAsync(new Dictionary<string, string> { ["wal_level"] = "replica" }, null, default);
        try
        {
            await source.WaitForConnectionsAsync(TimeSpan.FromSeconds(60), default);
            await source.ExecuteAsync("postgres", "create database shop", default);
            await source.ExecuteAsync("shop", "create table orders(id int primary key); insert into orders select generate_series(1, 10)", default);
            Task BaseBackupAsync(string directory) => CommandRunner.RunCheckedAsync("pg_basebackup", fx.Binaries.Tool("pg_basebackup"),
                ["-h", source.SocketDirectory, "-p", source.Port.ToString(), "-U", "postgres", "-D", directory, "-Ft", "-X", "fetch", "-c", "fast"],
                null, null, default);
            // A clean backup for the configuration-file tests, so each of them proves its own mechanism alone.
            await BaseBackupAsync(_backup);
            // Stored in the catalogue, so every restore of the second backup carries them: a role and a database setting
            // that load a library into every session of whoever connects. The role setting last: from then on every
            // plain session of the source fails too.
            await source.ExecuteAsync("postgres", $"alter database shop set session_preload_libraries = '{_marks}/db-evil.so'", default);
            await source.ExecuteAsync("postgres", $"alter role postgres set session_preload_libraries = '{_marks}/role-evil.so'", default);
            await BaseBackupAsync(_backupWithCatalogueSettings);
        }
        finally
        {
            await source.DisposeAsync();
        }
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    /// <summary>A copy of the backup whose base.tar carries <paramref name="autoConf"/> as postgresql.auto.conf, plus extra files.</summary>
    private async Task<string> PlantAsync(string autoConf, params (string Name, string Content)[] extra)
    {
        var dir = Path.Combine(_root, $"planted-{Guid.NewGuid():N}"[..20]);
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(_backup)) if (Path.GetFileName(f) != "base.tar") File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        await using (var input = File.OpenRead(Path.Combine(_backup, "base.tar")))
        await using (var output = File.Create(Path.Combine(dir, "base.tar")))
        {
            using var reader = new TarReader(input);
            await using var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
            TarEntry? entry;
            while ((entry = await reader.GetNextEntryAsync(copyData: true)) is not null)
            {
                if (entry.Name == "postgresql.auto.conf") continue;
                await writer.WriteEntryAsync(entry);
            }
            foreach (var (name, content) in extra.Prepend(("postgresql.auto.conf", autoConf)))
            {
                var e = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content)), Mode = (UnixFileMode)0b110_000_000 };
                await writer.WriteEntryAsync(e);
            }
        }
        return dir;
    }

    private async Task<(DrillRecord Record, LocalRestore Restore)> DrillAsync(string backupDir, params RestoreCheck[] extraChecks)
    {
        LocalRestore? restore = null;
        var record = await DrillRunner.RunAsync(new DrillOptions
        {
            DiscoverBackup = ct => LocalBackupCatalog.ReadBaseBackupAsync(backupDir, null, ct),
            RecoveryTarget = RecoveryTarget.Latest,
            Checks = [new RowCountCheck("shop", "public.orders", 10, 10), .. extraChecks],
            // Short: a planted setting that breaks sessions must fail the test quickly, not wait out a long default.
            Restore = new LocalRestoreOptions { WorkRoot = fx.WorkRoot, ReadyTimeout = TimeSpan.FromSeconds(45) },
            Keep = true,
        }, null, CancellationToken.None, r => restore = r);
        return (record, restore!);
    }

    private static async Task RemoveAsync(LocalRestore restore)
    {
        var outcome = await restore.RemoveAsync();
        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));
        Leftovers.AssertNone(restore);
    }

    /// <summary>Each mechanism: the postgresql.auto.conf line(s) that plant it, and the mark it would leave if honoured.</summary>
    public static TheoryData<string, string> Commands => new()
    {
        // Runs once recovery ends.
        { "recovery_end_command", "recovery_end_command = 'touch {mark}'" },
        // Runs at every restartpoint during recovery and at promotion's end-of-recovery checkpoint.
        { "archive_cleanup_command", "archive_cleanup_command = 'touch {mark}'" },
        // Runs for the new timeline's history file as soon as the copy is promoted.
        { "archive_command", "archive_mode = on\narchive_command = 'touch {mark}'" },
        // Written at start-up by the postmaster, anywhere the account may write.
        { "external_pid_file", "external_pid_file = '{mark}'" },
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task A_command_planted_in_postgresql_auto_conf_never_runs(string name, string planted)
    {
        var mark = Mark(name);
        var dir = await PlantAsync(planted.Replace("{mark}", mark) + "\n");

        var (record, restore) = await DrillAsync(dir);
        try
        {
            Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
            // Past promotion and a checkpoint: the points where each of these would have run.
            await restore.Instance!.ExecuteAsync("postgres", "checkpoint", default);
            Assert.False(File.Exists(mark), $"{name} from the backup ran on the drill host");
            // archive_command shows as "(disabled)" while archive_mode is off, which RestoreOps also forces.
            Assert.Equal(name == "archive_command" ? "(disabled)" : "", await ShowAsync(restore, name));
        }
        finally
        {
            await RemoveAsync(restore);
        }
    }

    /// <summary>Code a backup could make the server load; a library that does not exist fails the start or the session if honoured.</summary>
    public static TheoryData<string, string> Libraries => new()
    {
        { "shared_preload_libraries", "shared_preload_libraries = '{lib}'" },
        { "session_preload_libraries", "session_preload_libraries = '{lib}'" },
        { "local_preload_libraries", "local_preload_libraries = 'evil_plugin'" },
        { "archive_library", "archive_mode = on\narchive_library = '{lib}'" },
        { "jit_provider", "jit_provider = '{lib}'\njit = on\njit_above_cost = 0" },
        { "ssl_passphrase_command", "ssl = on\nssl_cert_file = '{lib}.crt'\nssl_key_file = '{lib}.key'\nssl_passphrase_command = 'touch {mark}'" },
        { "dynamic_library_path", "dynamic_library_path = '{marks}'" },
        { "extension_destdir", "extension_destdir = '{marks}'" },
    };

    [Theory]
    [MemberData(nameof(Libraries))]
    public async Task Code_a_backup_names_in_its_configuration_is_never_loaded(string name, string planted)
    {
        var mark = Mark(name);
        var dir = await PlantAsync(planted.Replace("{lib}", Path.Combine(_marks, "evil.so")).Replace("{mark}", mark).Replace("{marks}", _marks) + "\n");

        // A query expensive enough for JIT under the planted cost limits, so a planted provider would be loaded by it.
        var (record, restore) = await DrillAsync(dir, new SqlScalarCheck("jit-eligible query", "shop", "select count(*) from orders o1, orders o2", "100"));
        try
        {
            Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
            Assert.False(File.Exists(mark), $"{name} from the backup ran on the drill host");
            var log = restore.Instance!.LogTail(400);
            Assert.DoesNotContain("evil", log);
            Assert.Equal(LocalRestore.UntrustedSettingsOverrides[name], await ShowAsync(restore, name));
        }
        finally
        {
            await RemoveAsync(restore);
        }
    }

    [Fact]
    public async Task A_file_that_postgresql_auto_conf_includes_is_set_aside_with_it()
    {
        var mark = Mark("included");
        var dir = await PlantAsync("include 'extra/evil.conf'\n", ("extra/evil.conf", $"recovery_end_command = 'touch {mark}'\nwork_mem = '7777kB'\n"));

        var (record, restore) = await DrillAsync(dir);
        try
        {
            Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
            Assert.False(File.Exists(mark));
            Assert.NotEqual("7777kB", await ShowAsync(restore, "work_mem"));
            var data = restore.Instance!.DataDirectory;
            Assert.False(File.Exists(Path.Combine(data, "postgresql.auto.conf")));
            Assert.False(File.Exists(Path.Combine(data, "extra", "evil.conf")));
            // Kept for a person to read, outside the data directory.
            Assert.True(File.Exists(Path.Combine(restore.Cluster.WorkDirectory!, "source-config", "extra", "evil.conf")));
        }
        finally
        {
            await RemoveAsync(restore);
        }
    }

    [Fact]
    public async Task Role_and_database_settings_in_the_catalogue_load_nothing_and_are_removed_from_the_copy()
    {
        var (record, restore) = await DrillAsync(_backupWithCatalogueSettings);
        try
        {
            Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
            Assert.Contains(record.Phases, p => p.Phase == DrillPhase.Ready && p.Detail!.Contains("session_preload_libraries of role postgres", StringComparison.Ordinal));
            Assert.Contains(record.Phases, p => p.Phase == DrillPhase.Ready && p.Detail!.Contains("session_preload_libraries of database shop", StringComparison.Ordinal));
            // A person's session, without RestoreOps' protective options, now loads nothing either.
            var plain = restore.ClientConnectionString("shop");
            plain.Options = null;
            await using var c = new NpgsqlConnection(plain.ConnectionString);
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand("show session_preload_libraries", c);
            Assert.Equal("", await cmd.ExecuteScalarAsync());
            Assert.DoesNotContain("evil", restore.Instance!.LogTail(400));
        }
        finally
        {
            await RemoveAsync(restore);
        }
    }

    /// <summary>
    /// The value a person's session sees: over TCP with the generated password and without RestoreOps' own protective
    /// session options, which would otherwise mask what the server itself was told.
    /// </summary>
    private static async Task<string> ShowAsync(LocalRestore restore, string setting)
    {
        var plain = restore.ClientConnectionString("postgres");
        plain.Options = null;
        await using var c = new NpgsqlConnection(plain.ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"select current_setting('{setting}')", c);
        return (string)(await cmd.ExecuteScalarAsync())!;
    }
}
