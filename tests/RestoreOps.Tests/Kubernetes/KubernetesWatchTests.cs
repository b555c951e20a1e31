using System.Text.Json.Nodes;
using RestoreOps.Kubernetes;
using Xunit;

namespace RestoreOps.Tests.Kubernetes;

public sealed class KubernetesWatchTests : IAsyncLifetime
{
    private readonly FakeKubernetesServer _server = new();
    private KubernetesClient _api = null!;
    // A guard against a hung test, not a synchronisation: every step below waits on an event.
    private readonly CancellationTokenSource _guard = new(TimeSpan.FromSeconds(60));

    public Task InitializeAsync()
    {
        _api = new KubernetesClient(_server.Config("t", "drills"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _guard.Cancel();
        _api.Dispose();
        await _server.DisposeAsync();
    }

    private static JsonObject Backup(string name, string phase = "running") => new()
    {
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "drills", ["labels"] = new JsonObject { ["drill"] = "yes" } },
        ["status"] = new JsonObject { ["phase"] = phase },
    };

    private static string Describe(WatchEvent e) =>
        $"{e.Type} {e.Name} {(string?)e.Object["status"]?["phase"]}{(e.FromRelist ? " relist" : "")}";

    [Fact]
    public async Task Streams_changes_after_the_list_version_with_bookmarks()
    {
        _server.Put(ResourceKind.Backup, Backup("before"));
        var list = await _api.ListAsync(ResourceKind.Backup, "drills", "drill=yes", null, _guard.Token);
        _server.Put(ResourceKind.Backup, Backup("between"));   // after the list, before the watch: must not be lost

        await using var events = _api.WatchAsync(ResourceKind.Backup, "drills", "drill=yes", null, list.ResourceVersion, _guard.Token).GetAsyncEnumerator(_guard.Token);
        Assert.True(await events.MoveNextAsync());
        Assert.Equal("Added between running", Describe(events.Current));

        await _server.WaitForWatchersAsync(1);
        _server.Update(ResourceKind.Backup, "drills", "before", o => o["status"]!["phase"] = "completed");
        _server.Put(ResourceKind.Backup, new JsonObject { ["metadata"] = new JsonObject { ["name"] = "unlabelled", ["namespace"] = "drills" } });
        _server.SendBookmark();
        _server.Remove(ResourceKind.Backup, "drills", "between");

        Assert.True(await events.MoveNextAsync());
        Assert.Equal("Modified before completed", Describe(events.Current));
        Assert.Equal("Backup", (string?)events.Current.Object["kind"]);
        Assert.True(await events.MoveNextAsync());
        Assert.Equal(WatchEventType.Bookmark, events.Current.Type);
        var bookmark = long.Parse(events.Current.ResourceVersion!);
        Assert.True(await events.MoveNextAsync());
        Assert.Equal("Deleted between running", Describe(events.Current));
        Assert.True(long.Parse(events.Current.ResourceVersion!) > bookmark);

        var watch = _server.Requests.Last(r => r.Query.Contains("watch=true"));
        Assert.Contains("allowWatchBookmarks=true", watch.Query);
        Assert.Contains($"resourceVersion={list.ResourceVersion}", watch.Query);
    }

    [Fact]
    public async Task Without_a_version_it_lists_first_then_watches()
    {
        _server.Put(ResourceKind.Backup, Backup("a"));
        await using var events = _api.WatchAsync(ResourceKind.Backup, "drills", null, null, null, _guard.Token).GetAsyncEnumerator(_guard.Token);
        Assert.True(await events.MoveNextAsync());
        Assert.Equal("Added a running", Describe(events.Current));
        // The watch request goes out only when the consumer asks for the next event.
        var next = events.MoveNextAsync().AsTask();
        await _server.WaitForWatchersAsync(1);
        _server.Put(ResourceKind.Backup, Backup("b"));
        Assert.True(await next);
        Assert.Equal("Added b running", Describe(events.Current));
    }

    [Fact]
    public async Task On_410_in_the_stream_it_relists_and_surfaces_what_changed_while_disconnected()
    {
        _server.Put(ResourceKind.Backup, Backup("kept"));
        _server.Put(ResourceKind.Backup, Backup("dropped"));
        await using var events = _api.WatchAsync(ResourceKind.Backup, "drills", null, null, null, _guard.Token).GetAsyncEnumerator(_guard.Token);
        Assert.True(await events.MoveNextAsync());
        Assert.True(await events.MoveNextAsync());
        var next = events.MoveNextAsync().AsTask();
        await _server.WaitForWatchersAsync(1);

        _server.ExpireHistory(whileDisconnected: () =>
        {
            _server.Update(ResourceKind.Backup, "drills", "kept", o => o["status"]!["phase"] = "completed");
            _server.Remove(ResourceKind.Backup, "drills", "dropped");
            _server.Put(ResourceKind.Backup, Backup("new", "started"));
        });

        var seen = new List<string>();
        Assert.True(await next);
        seen.Add(Describe(events.Current));
        for (var i = 0; i < 2; i++)
        {
            Assert.True(await events.MoveNextAsync());
            seen.Add(Describe(events.Current));
        }
        Assert.Equal(["Modified kept completed relist", "Added new started relist", "Deleted dropped running relist"], seen);

        // And it keeps watching from the fresh list's version.
        next = events.MoveNextAsync().AsTask();
        await _server.WaitForWatchersAsync(1);
        _server.Put(ResourceKind.Backup, Backup("later"));
        Assert.True(await next);
        Assert.Equal("Added later running", Describe(events.Current));
    }

    [Fact]
    public async Task On_410_status_for_an_old_version_it_relists()
    {
        _server.GoneAsHttpStatus = true;
        _server.Put(ResourceKind.Backup, Backup("a"));
        var list = await _api.ListAsync(ResourceKind.Backup, "drills", null, null, _guard.Token);
        _server.ExpireHistory(() => _server.Update(ResourceKind.Backup, "drills", "a", o => o["status"]!["phase"] = "completed"));

        await using var events = _api.WatchAsync(ResourceKind.Backup, "drills", null, null, list.ResourceVersion, _guard.Token).GetAsyncEnumerator(_guard.Token);
        Assert.True(await events.MoveNextAsync());
        Assert.Equal("Added a completed relist", Describe(events.Current));
    }

    [Fact]
    public async Task A_denied_watch_is_a_typed_error()
    {
        _server.Deny("watch", ResourceKind.Backup, "drills");
        await using var events = _api.WatchAsync(ResourceKind.Backup, "drills", null, null, "1", _guard.Token).GetAsyncEnumerator(_guard.Token);
        var e = await Assert.ThrowsAsync<KubernetesForbiddenException>(async () => await events.MoveNextAsync());
        Assert.Contains("verbs: [\"watch\"]", e.Message);
    }
}
