using System.Net.Http.Headers;
using System.Text;
using RestoreOps.Model;

namespace RestoreOps.Evidence;

/// <summary>Where and how to push metrics.</summary>
public sealed class PushgatewayOptions
{
    /// <summary>The Pushgateway base URL, e.g. <c>http://pushgateway:9091</c>.</summary>
    public required Uri Url { get; init; }
    /// <summary>The <c>job</c> grouping label.</summary>
    public string Job { get; init; } = "restoreops";
    /// <summary>Attempts in all, the first included.</summary>
    public int Attempts { get; init; } = 3;
    /// <summary>Time one attempt may take.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Wait before the second attempt; doubled for each later one.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Client to use; a shared one when null.</summary>
    public HttpClient? HttpClient { get; init; }
}

/// <summary>
/// Pushes a record's metrics (<see cref="PrometheusWriter"/>) to a Prometheus Pushgateway with <c>PUT</c>, replacing the
/// group <c>job/&lt;job&gt;/source@base64/&lt;source&gt;</c>: one group per source, so sources never overwrite each other.
/// </summary>
/// <example><code>var outcome = await Pushgateway.PushAsync(record, lastSuccess, new PushgatewayOptions { Url = new("http://pushgateway:9091") }, ct);</code></example>
public static class Pushgateway
{
    /// <summary>
    /// The URL the record's group is pushed to: the group's path appended to the base URL's path (a Pushgateway behind a
    /// path prefix works), the base URL's query string kept as the query (a proxy may need it), any fragment dropped.
    /// </summary>
    public static Uri GroupUrl(PushgatewayOptions options, string? source)
    {
        // Sources contain slashes (s3://bucket/path); the base64url form of a grouping label is the Pushgateway's answer to that.
        var encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes(source ?? DrillHistory.UnknownSource)).Replace('+', '-').Replace('/', '_');
        // Built from the parts: appending to the whole URL text put the group after a query string, where the
        // Pushgateway never sees it.
        var url = new UriBuilder(options.Url) { Fragment = "" };
        url.Path = $"{url.Path.TrimEnd('/')}/metrics/job/{Uri.EscapeDataString(options.Job)}/source@base64/{encoded}";
        return url.Uri;
    }

    /// <summary>Pushes the metrics; <paramref name="lastSuccess"/> as for <see cref="PrometheusWriter.Write"/>. A failure is reported in the outcome, not thrown.</summary>
    public static async Task<DeliveryOutcome> PushAsync(DrillRecord record, DateTimeOffset? lastSuccess, PushgatewayOptions options, CancellationToken cancellationToken)
    {
        var redacted = DrillRecordJson.RedactedCopy(record);
        var body = PrometheusWriter.Write(redacted, lastSuccess);
        var url = GroupUrl(options, redacted.Source);
        return await Delivery.SendAsync(() =>
            {
                var content = new StringContent(body, Encoding.UTF8);
                content.Headers.ContentType = MediaTypeHeaderValue.Parse(PrometheusWriter.ContentType);
                return new HttpRequestMessage(HttpMethod.Put, url) { Content = content };
            },
            "Pushgateway push", url, options.Attempts, options.AttemptTimeout, options.RetryDelay, options.HttpClient ?? Heartbeat.SharedClient, cancellationToken).ConfigureAwait(false);
    }
}
