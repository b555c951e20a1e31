using RestoreOps.Checks;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.Checks;

[Collection("checks-db")]
public sealed class CheckRunnerTests(ChecksDatabase db)
{
    /// <summary>Records how many instances run at once; each waits until the test opens the gate.</summary>
    private sealed class ProbeState(int limit)
    {
        public int Current;
        public int Max;
        public int Entered;
        public readonly TaskCompletionSource LimitReached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly TaskCompletionSource Gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Limit { get; } = limit;
    }

    /// <summary>Records how many instances run at once; each waits until the test opens the gate.</summary>
    private sealed class ConcurrencyProbe(int index, ProbeState shared) : RestoreCheck($"probe {index}", "test", "none")
    {
        protected override async Task<(CheckStatus, string?, string?, string)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken)
        {
            var now = Interlocked.Increment(ref shared.Current);
            int seen;
            while ((seen = Volatile.Read(ref shared.Max)) < now && Interlocked.CompareExchange(ref shared.Max, now, seen) != seen) { }
            if (Interlocked.Increment(ref shared.Entered) == shared.Limit) shared.LimitReached.TrySetResult();
            await shared.Gate.Task.WaitAsync(cancellationToken);
            Interlocked.Decrement(ref shared.Current);
            return (CheckStatus.Passed, null, index.ToString(System.Globalization.CultureInfo.InvariantCulture), "ok");
        }
    }

    [Fact]
    public async Task Parallelism_is_bounded_and_results_keep_input_order()
    {
        var shared = new ProbeState(3);
        var checks = Enumerable.Range(0, 12).Select(i => new ConcurrencyProbe(i, shared)).ToList();
        var run = CheckRunner.RunAsync(checks, db.Context(), parallelism: 3, null, CancellationToken.None);
        // Three checks are inside and blocked: the runner has had every chance to start more if it were unbounded.
        await shared.LimitReached.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var insideWhileBlocked = Volatile.Read(ref shared.Current);
        shared.Gate.SetResult();
        var results = await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(3, insideWhileBlocked);
        Assert.Equal(3, shared.Max);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), results.Select(r => r.Actual));
        Assert.All(results, r => Assert.Equal(CheckStatus.Passed, r.Status));
    }

    [Fact]
    public async Task A_check_over_its_timeout_is_an_error_naming_the_timeout_and_the_others_still_run()
    {
        var slow = new SqlScalarCheck("slow query", ChecksDatabase.Database, "select pg_sleep(60)::text", "") { Timeout = TimeSpan.FromMilliseconds(500) };
        var fast = new RowCountCheck(ChecksDatabase.Database, "orders", ChecksDatabase.Orders, ChecksDatabase.Orders);
        var results = await CheckRunner.RunAsync([slow, fast], db.Context(), new CheckRunOptions { MaxParallelism = 2 }, null, CancellationToken.None);
        Assert.Equal(CheckStatus.Error, results[0].Status);
        Assert.Contains("timeout of 500 ms", results[0].Message);
        Assert.Equal("timed out", results[0].Actual);
        Assert.True(results[0].Duration < TimeSpan.FromSeconds(30), $"took {results[0].Duration}");
        Assert.Equal(CheckStatus.Passed, results[1].Status);
    }

    [Fact]
    public async Task Statement_timeout_from_the_options_stops_a_long_statement_with_an_error_naming_it()
    {
        var slow = new SqlScalarCheck("slow query", ChecksDatabase.Database, "select pg_sleep(60)::text", "");
        var results = await CheckRunner.RunAsync([slow], db.Context(), new CheckRunOptions { StatementTimeout = TimeSpan.FromMilliseconds(300) }, null, CancellationToken.None);
        Assert.Equal(CheckStatus.Error, results[0].Status);
        Assert.Contains("57014", results[0].Message);
        Assert.Contains("statementTimeout", results[0].Message);
    }

    [Fact]
    public async Task Cancelling_the_run_throws_instead_of_reporting_errors()
    {
        using var cts = new CancellationTokenSource();
        var slow = new SqlScalarCheck("slow query", ChecksDatabase.Database, "select pg_sleep(60)::text", "");
        var run = CheckRunner.RunAsync([slow], db.Context(), null, cts.Token);
        cts.CancelAfter(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
    }

    [Fact]
    public async Task The_demo_check_file_runs_through_the_suite_against_a_shop_database()
    {
        var suite = CheckFile.Load(Path.Combine(RestoreOps.Tests.Fixtures.RepositoryPaths.Root, "docs", "examples", "demo-checks.yaml"));
        Assert.Equal(["shop"], suite.Databases);
        var shop = "shop";
        if (await db.ScalarAsync("postgres", "select count(*) from pg_database where datname = 'shop'") is 0L)
        {
            await db.ExecAsync("postgres", "create database shop");
            await db.ExecAsync(shop, RestoreOps.Automation.DemoSource.SampleDatabaseSql);
            await db.ExecAsync(shop, """
                insert into orders(customer_id, batch, amount) select 1 + g % 100, 'in-backup', 1 from generate_series(1, 1000) g;
                insert into orders(customer_id, batch, amount) select 1 + g % 100, 'before-target', 1 from generate_series(1, 500) g;
                """);
        }
        var newest = (DateTime)(await db.ScalarAsync(shop, "select max(created_at) from orders"))!;
        var context = db.Context() with { RecoveryTarget = RecoveryTarget.AtTime(new DateTimeOffset(DateTime.SpecifyKind(newest, DateTimeKind.Utc)).AddSeconds(1)) };
        var results = await suite.RunAsync(context, null, CancellationToken.None);
        Assert.All(results, r => Assert.True(r.Status == CheckStatus.Passed, $"{r.Name}: {r.Status} {r.Message}"));
        Assert.True(results.Count >= 5);
    }
}
