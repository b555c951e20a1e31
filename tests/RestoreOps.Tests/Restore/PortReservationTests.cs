using System.Collections.Concurrent;
using RestoreOps.Automation;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Tests.Automation;
using RestoreOps.Tests.Fixtures;
using Xunit;

namespace RestoreOps.Tests.Restore;

/// <summary>
/// Local instances started together never share a TCP port: the OS offers a port it saw released to whoever asks next,
/// so a port is reserved in the process from the moment it is picked until its server has stopped.
/// </summary>
[Collection("backups")]
public sealed class PortReservationTests(BackupFixtures fx)
{
    // Below 1024: the OS never offers these from its ephemeral range, so no real restore running meanwhile holds one.
    private const int FirstFakePort = 1001;

    [Fact]
    public void Concurrent_callers_get_distinct_ports_when_the_OS_offers_each_port_twice()
    {
        const int callers = 8;
        var offers = -1;
        // What the OS does to callers that ask at the same moment: the same free port, twice in a row.
        int Pick() => FirstFakePort + Interlocked.Increment(ref offers) / 2 % (2 * callers);
        using var start = new Barrier(callers);
        var ports = new ConcurrentBag<int>();
        try
        {
            var threads = Enumerable.Range(0, callers).Select(_ => new Thread(() =>
            {
                start.SignalAndWait();
                ports.Add(LocalInstance.ReservePort(Pick));
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());

            Assert.Equal(callers, ports.Count);
            Assert.Equal(callers, ports.Distinct().Count());
            Assert.All(ports, p => Assert.True(LocalInstance.IsPortReserved(p), $"port {p} is not reserved"));
            // The eighth distinct port is first offered at offer 2 * callers - 2: every duplicate before it was skipped.
            Assert.True(offers >= 2 * callers - 2, $"{offers + 1} offers for {callers} callers");
        }
        finally
        {
            foreach (var p in ports) LocalInstance.ReleasePort(p);
        }
    }

    [Fact]
    public void A_reserved_port_is_skipped_until_it_is_released()
    {
        var offered = new Queue<int>([FirstFakePort + 20, FirstFakePort + 20, FirstFakePort + 21, FirstFakePort + 20]);
        int Pick() => offered.Dequeue();

        var first = LocalInstance.ReservePort(Pick);
        var second = LocalInstance.ReservePort(Pick);
        try
        {
            Assert.Equal((FirstFakePort + 20, FirstFakePort + 21), (first, second));
            LocalInstance.ReleasePort(first);
            Assert.False(LocalInstance.IsPortReserved(first));

            Assert.Equal(first, LocalInstance.ReservePort(Pick));
            Assert.Empty(offered);
        }
        finally
        {
            LocalInstance.ReleasePort(first);
            LocalInstance.ReleasePort(second);
        }
    }

    [Fact]
    public void A_port_that_is_never_free_ends_in_an_infrastructure_error_not_a_hang()
    {
        var taken = LocalInstance.ReservePort(() => FirstFakePort + 30);
        try
        {
            var e = Assert.Throws<InfrastructureException>(() => LocalInstance.ReservePort(() => taken));
            Assert.Contains("127.0.0.1", e.Message, StringComparison.Ordinal);
            Assert.NotNull(e.Fix);
        }
        finally
        {
            LocalInstance.ReleasePort(taken);
        }
    }

    [Fact]
    public async Task Restores_started_together_hold_distinct_reserved_ports_until_they_are_removed()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var ct = guard.Token;
        var dump = await TestEngine.Shared.GetLocalBackupAsync(fx.DumpFile, null, ct);
        var root = Facade.NewRoot(fx, "ports");
        await using var engine = new RestoreEngine();
        var created = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ =>
            engine.NewAsync(new RestoreRequest { Backup = dump, Kind = RestoreTargetKind.Local, WorkRoot = root }, ct)));
        var ready = await Task.WhenAll(created.Select(c => engine.WaitReadyAsync(c, TimeSpan.FromMinutes(3), null, null, ct)));

        var ports = ready.Select(c => c.Connection!.Port).ToList();
        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, p => Assert.True(LocalInstance.IsPortReserved(p), $"port {p} of a running server is not reserved"));

        foreach (var c in ready)
            Assert.True((await engine.RemoveAsync(c, null, ct)).Succeeded);
        Assert.All(ports, p => Assert.False(LocalInstance.IsPortReserved(p), $"port {p} is still reserved after its server was removed"));
        Assert.Empty(Directory.GetFileSystemEntries(root));
    }
}
