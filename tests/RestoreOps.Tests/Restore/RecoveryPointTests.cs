using Npgsql;
using RestoreOps.Automation;
using RestoreOps.Backups;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Tests.Automation;
using RestoreOps.Tests.Fixtures;
using Xunit;
using I = RestoreOps.Tests.Fixtures.IncidentFixtures;

namespace RestoreOps.Tests.Restore;

/// <summary>
/// Finding the bad change in real archived WAL: a TRUNCATE, a DROP TABLE and a DELETE without WHERE, each committed
/// between good writes, with many segments archived after them; and restoring to the target offered for each.
/// </summary>
[Collection("incident")]
public sealed class RecoveryPointTests(IncidentFixtures fx)
{
    private RecoveryPointQuery Query(string? resolveWith = null) => new()
    {
        DestinationPath = BackupFixtures.DestinationPath,
        ServerName = I.Server,
        ObjectStore = fx.S3.Options,
        From = fx.BeforeBadChanges,
        To = fx.AfterBadChanges,
        MinimumRows = 100,
        ResolveConnectionString = resolveWith,
        // One clock here: the archive's stamps and the commits come from this machine.
        ClockSkew = TimeSpan.Zero,
    };

    private async Task<LocalRestore> RestoreAsync(RecoveryTarget target)
    {
        using var catalog = BarmanCloudCatalog.Create(BackupFixtures.DestinationPath, I.Server, fx.S3.Options);
        var backup = await catalog.GetAsync(fx.SecondBackupId);
        var restore = LocalRestore.Create(backup, target,
            new LocalRestoreOptions { WorkRoot = fx.WorkRoot, ObjectStore = fx.S3.Options, WalParallelism = 2 }, DrillRunner.NewDrillId());
        try
        {
            await restore.RunAsync(null, CancellationToken.None);
        }
        catch
        {
            await restore.RemoveAsync();
            throw;
        }
        return restore;
    }

    [Fact]
    public async Task Each_bad_change_is_listed_newest_first_with_its_xid_time_and_table()
    {
        // Dropped and truncated tables are named only by a catalogue from before the change: a target restored to before the first.
        var before = await RestoreAsync(RecoveryTarget.AtXid(fx.TruncateXid, inclusive: false));
        try
        {
            var points = await TestEngine.Shared.FindRecoveryPointsAsync(Query(before.AdminConnectionString("postgres").ConnectionString), null, CancellationToken.None);

            Assert.Collection(points,
                p => (p.Operation, p.Xid, p.Relation, p.Rows).Is((DestructiveOperation.Delete, fx.DeleteXid, "public.t_delete", (long?)I.VictimRows)),
                p => (p.Operation, p.Xid, p.Relation, p.Rows).Is((DestructiveOperation.Drop, fx.DropXid, "public.t_drop", (long?)null)),
                p => (p.Operation, p.Xid, p.Relation, p.Rows).Is((DestructiveOperation.Truncate, fx.TruncateXid, "public.t_truncate", (long?)null)));
            Assert.All(points, p => Assert.InRange(p.CommitTime, fx.BeforeBadChanges, fx.AfterBadChanges));
            Assert.All(points, p => Assert.Equal(RecoveryTarget.AtXid(p.Xid, inclusive: false).ToString(), p.RecoveryTarget.ToString()));
            // The restore to before the TRUNCATE has the rows it removed.
            Assert.Equal(I.VictimRows, await CountAsync(before, "t_truncate"));
        }
        finally
        {
            await before.RemoveAsync();
        }
    }

    [Fact]
    public async Task Without_a_catalogue_each_change_is_one_line_by_file_and_only_the_window_is_fetched()
    {
        var points = await TestEngine.Shared.FindRecoveryPointsAsync(Query(), null, CancellationToken.None);

        Assert.Equal([fx.DeleteXid, fx.DropXid, fx.TruncateXid], points.Select(p => p.Xid));
        Assert.All(points, p => Assert.Null(p.Relation));
        Assert.All(points, p => Assert.Matches(@"^1663/\d+/\d+$", p.RelFileNode));
        // Every segment after the window (the filler's) but the first is left in the store.
        using var client = fx.S3.CreateClient();
        var listed = await client.ListObjectsV2Async(new Amazon.S3.Model.ListObjectsV2Request { BucketName = "backups", Prefix = $"pg/{I.Server}/wals/" });
        var segments = listed.S3Objects.Count(o => !o.Key.EndsWith(".backup", StringComparison.Ordinal) && !o.Key.Contains(".history", StringComparison.Ordinal));
        Assert.True(RecoveryPointSearch.SegmentsFetchedForTests <= 4 && segments >= I.SegmentsAfterNear,
            $"fetched {RecoveryPointSearch.SegmentsFetchedForTests} of {segments} segments");
    }

    [Fact]
    public async Task Restoring_to_the_target_offered_for_the_delete_gives_exactly_the_rows_before_it()
    {
        var points = await TestEngine.Shared.FindRecoveryPointsAsync(Query(), null, CancellationToken.None);
        var delete = points.Single(p => p.Operation == DestructiveOperation.Delete);

        var restore = await RestoreAsync(delete.RecoveryTarget);
        try
        {
            Assert.Equal(I.VictimRows, await CountAsync(restore, "t_delete"));
            // The changes before it are in: the truncate emptied its table, the drop removed its table.
            Assert.Equal(0, await CountAsync(restore, "t_truncate"));
            Assert.Null(await ScalarAsync(restore, "select to_regclass('public.t_drop')::text"));
        }
        finally
        {
            await restore.RemoveAsync();
        }
    }

    [Fact]
    public async Task A_window_after_the_changes_finds_none_and_bad_input_names_the_parameter()
    {
        var later = await TestEngine.Shared.FindRecoveryPointsAsync(new RecoveryPointQuery
        {
            DestinationPath = BackupFixtures.DestinationPath, ServerName = I.Server, ObjectStore = fx.S3.Options,
            From = fx.AfterBadChanges.AddSeconds(1), MinimumRows = 100, ClockSkew = TimeSpan.Zero,
        }, null, CancellationToken.None);
        Assert.Empty(later);

        var inverted = await Assert.ThrowsAsync<ConfigurationException>(() => TestEngine.Shared.FindRecoveryPointsAsync(
            new RecoveryPointQuery { WalDirectory = "/nonexistent", From = fx.AfterBadChanges, To = fx.BeforeBadChanges }, null, CancellationToken.None));
        Assert.Equal(InputKey.From, inverted.Parameter);
        var missing = await Assert.ThrowsAsync<ConfigurationException>(() => TestEngine.Shared.FindRecoveryPointsAsync(
            new RecoveryPointQuery { WalDirectory = "/nonexistent/wal" }, null, CancellationToken.None));
        Assert.Contains("/nonexistent/wal", missing.Message);
    }

    private static async Task<long> CountAsync(LocalRestore restore, string table) =>
        (long)(await ScalarAsync(restore, $"select count(*) from {table}"))!;

    private static async Task<object?> ScalarAsync(LocalRestore restore, string sql)
    {
        await using var c = new NpgsqlConnection(restore.AdminConnectionString("shop").ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        var v = await cmd.ExecuteScalarAsync();
        return v is DBNull ? null : v;
    }
}

internal static class TupleAssert
{
    public static void Is<T>(this T actual, T expected) => Assert.Equal(expected, actual);
}

/// <summary>The same search through the CLI, and a drill to the target it prints.</summary>
[Collection("incident")]
public sealed class RecoveryPointCliTests(IncidentFixtures fx)
{
    [Fact]
    public async Task Recovery_points_lists_the_changes_and_the_drill_it_names_restores_to_just_before_one()
    {
        var env = new Dictionary<string, string> { ["AWS_SECRET_ACCESS_KEY"] = S3rverServer.Secret };
        string[] source = ["--source", BackupFixtures.DestinationPath, "--server-name", I.Server, "--endpoint-url", fx.S3.Endpoint, "--access-key-id", S3rverServer.AccessKey];
        var (exit, output, errors) = await Cli.CliProcess.RunAsync(fx.WorkRoot, env,
            ["recovery-points", .. source, "--from", fx.BeforeBadChanges.ToString("O"), "--to", fx.AfterBadChanges.ToString("O"), "--min-rows", "100", "--json"]);

        Assert.True(exit == 0, $"exit {exit}\n{output}\n{errors}");
        var points = System.Text.Json.Nodes.JsonNode.Parse(output)!.AsArray();
        Assert.Equal([fx.DeleteXid, fx.DropXid, fx.TruncateXid], points.Select(p => p!["xid"]!.GetValue<ulong>()));
        Assert.Equal(["Delete", "Drop", "Truncate"], points.Select(p => p!["operation"]!.GetValue<string>()));
        Assert.DoesNotContain("row 1", output);

        // The drill the table view tells the user to run: the DELETE's transaction, exclusive.
        var drill = await Cli.CliProcess.RunAsync(fx.WorkRoot, env,
            ["drill", .. source, "--target-xid", fx.DeleteXid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--target-exclusive",
             "--database", "shop", "--expect-rows", $"public.t_delete={I.VictimRows}", "--expect-rows", "public.t_truncate=0", "--work-dir", fx.WorkRoot, "--json"]);
        Assert.True(drill.Exit == 0, $"exit {drill.Exit}\n{drill.Out}\n{drill.Err}");
        var record = System.Text.Json.Nodes.JsonNode.Parse(drill.Out)!;
        Assert.Equal(fx.SecondBackupId, record["backup"]!["id"]!.GetValue<string>());
        Assert.Contains("exclusive", record["recoveryTarget"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_bad_window_exits_2_naming_the_option()
    {
        var (exit, _, errors) = await Cli.CliProcess.RunAsync(fx.WorkRoot, null, ["recovery-points", "--wal-archive", fx.WorkRoot, "--from", "yesterday-ish"]);

        Assert.Equal(2, exit);
        Assert.Contains("--from 'yesterday-ish' is neither a time nor a duration", errors);
    }
}
