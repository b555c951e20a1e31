using System.Diagnostics;
using System.Text;
using RestoreOps.Evidence;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.Evidence;

public class HeartbeatTests
{
    private static HeartbeatOptions Options(LoopbackServer server, int attempts = 3, double timeoutSeconds = 10) => new()
    {
        Url = new Uri(server.BaseUrl, "ping/5f2a6c1e-uuid"),
        Attempts = attempts,
        AttemptTimeout = TimeSpan.FromSeconds(timeoutSeconds),
        RetryDelay = TimeSpan.Zero,
    };

    [Fact]
    public async Task A_passed_drill_pings_with_a_summary()
    {
        await using var server = new LoopbackServer();
        var record = SampleRecords.Passed();
        var outcome = await Heartbeat.SendAsync(record, Options(server), CancellationToken.None);
        await server.WaitForRequestsAsync(1);
        Assert.True(outcome.Sent, outcome.Message);
        Assert.Equal(1, outcome.Attempts);
        var request = Assert.Single(server.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/ping/5f2a6c1e-uuid", request.PathAndQuery);
        Assert.StartsWith("text/plain", request.ContentType);
        Assert.Contains($"restoreops drill {record.DrillId} passed source=s3://backups/prod/pg-main", request.Body);
        Assert.Contains("restore_s=95.5", request.Body);
        // The ping URL's path is its secret: messages name the host only.
        Assert.DoesNotContain("5f2a6c1e", outcome.Message);
    }

    [Fact]
    public async Task Server_errors_are_retried_up_to_the_bound()
    {
        await using var server = new LoopbackServer { Respond = n => n < 3 ? 503 : 200 };
        var outcome = await Heartbeat.SendAsync(SampleRecords.Passed(), Options(server), CancellationToken.None);
        Assert.True(outcome.Sent, outcome.Message);
        Assert.Equal(3, outcome.Attempts);
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public async Task A_ping_that_keeps_failing_is_reported_not_thrown()
    {
        await using var server = new LoopbackServer { Respond = _ => 500 };
        var outcome = await Heartbeat.SendAsync(SampleRecords.Passed(), Options(server, attempts: 2), CancellationToken.None);
        Assert.False(outcome.Sent);
        Assert.Equal(2, outcome.Attempts);
        Assert.Equal(500, outcome.StatusCode);
        Assert.Contains("failed after 2 of 2 attempt(s): HTTP 500", outcome.Message);
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task A_client_error_is_not_retried()
    {
        await using var server = new LoopbackServer { Respond = _ => 404 };
        var outcome = await Heartbeat.SendAsync(SampleRecords.Passed(), Options(server), CancellationToken.None);
        Assert.False(outcome.Sent);
        Assert.Equal(1, outcome.Attempts);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_silent_receiver_is_cut_off_by_the_attempt_timeout()
    {
        await using var server = new LoopbackServer { Respond = _ => null };
        var clock = Stopwatch.StartNew();
        var outcome = await Heartbeat.SendAsync(SampleRecords.Passed(), Options(server, attempts: 2, timeoutSeconds: 0.3), CancellationToken.None);
        Assert.False(outcome.Sent);
        Assert.Equal(2, outcome.Attempts);
        Assert.Contains("no answer within 0.3 s", outcome.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Theory]
    [InlineData(DrillVerdict.Failed)]
    [InlineData(DrillVerdict.Error)]
    public async Task A_drill_that_did_not_pass_sends_nothing(DrillVerdict verdict)
    {
        await using var server = new LoopbackServer();
        var record = SampleRecords.Passed();
        record.Verdict = verdict;
        var outcome = await Heartbeat.SendAsync(record, Options(server), CancellationToken.None);
        Assert.False(outcome.Sent);
        Assert.Equal(0, outcome.Attempts);
        // SendAsync awaits every response it asks for, so a ping it had sent would be recorded by now.
        Assert.Empty(server.Requests);
    }
}

public class PushgatewayTests
{
    [Fact]
    public async Task The_push_replaces_the_source_group_with_the_exposition()
    {
        await using var server = new LoopbackServer();
        var record = SampleRecords.Failed();
        var lastSuccess = SampleRecords.Start.AddDays(-1);
        var options = new PushgatewayOptions { Url = server.BaseUrl, RetryDelay = TimeSpan.Zero };
        var outcome = await Pushgateway.PushAsync(record, lastSuccess, options, CancellationToken.None);
        await server.WaitForRequestsAsync(1);
        Assert.True(outcome.Sent, outcome.Message);
        var request = Assert.Single(server.Requests);
        Assert.Equal("PUT", request.Method);
        var group = Convert.ToBase64String(Encoding.UTF8.GetBytes("s3://backups/prod/pg-main")).Replace('+', '-').Replace('/', '_');
        Assert.Equal($"/metrics/job/restoreops/source@base64/{group}", request.PathAndQuery);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", request.ContentType);
        Assert.Equal(PrometheusWriter.Write(record, lastSuccess), request.Body);
        Assert.Contains("restoreops_drill_verdict{source=\"s3://backups/prod/pg-main\",verdict=\"failed\"} 1", request.Body);
    }

    [Theory]
    [InlineData("?tenant=a", "/metrics/job/restoreops/source@base64/{0}?tenant=a")]
    [InlineData("pushgateway/?tenant=a#frag", "/pushgateway/metrics/job/restoreops/source@base64/{0}?tenant=a")]
    [InlineData("pushgateway", "/pushgateway/metrics/job/restoreops/source@base64/{0}")]
    public async Task A_base_url_with_a_path_or_query_still_pushes_to_the_group(string relative, string expected)
    {
        // Appending the group to the URL text put it inside the query string, where the Pushgateway never looks.
        await using var server = new LoopbackServer();
        var options = new PushgatewayOptions { Url = new Uri(server.BaseUrl, relative), RetryDelay = TimeSpan.Zero };
        var outcome = await Pushgateway.PushAsync(SampleRecords.Passed(), null, options, CancellationToken.None);
        await server.WaitForRequestsAsync(1);
        Assert.True(outcome.Sent, outcome.Message);
        var group = Convert.ToBase64String(Encoding.UTF8.GetBytes("s3://backups/prod/pg-main")).Replace('+', '-').Replace('/', '_');
        Assert.Equal(string.Format(System.Globalization.CultureInfo.InvariantCulture, expected, group), Assert.Single(server.Requests).PathAndQuery);
    }

    [Fact]
    public async Task A_refused_push_is_reported()
    {
        await using var server = new LoopbackServer { Respond = _ => 400 };
        var outcome = await Pushgateway.PushAsync(SampleRecords.Passed(), null, new PushgatewayOptions { Url = server.BaseUrl, RetryDelay = TimeSpan.Zero }, CancellationToken.None);
        Assert.False(outcome.Sent);
        Assert.Contains("Pushgateway push", outcome.Message);
        Assert.Contains("HTTP 400", outcome.Message);
    }
}
