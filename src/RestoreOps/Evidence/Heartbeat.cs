using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using RestoreOps.Model;

namespace RestoreOps.Evidence;

/// <summary>How to ping the dead man's switch.</summary>
public sealed class HeartbeatOptions
{
    /// <summary>The ping URL (healthchecks.io style: a POST or GET marks the check as up). Treat it as a secret.</summary>
    public required Uri Url { get; init; }
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
/// Pings a dead man's switch after a passed drill, so the alarm fires when drills stop passing or stop running
/// (healthchecks.io, Cronitor, Uptime Kuma push monitors). Nothing is sent for a drill that did not pass: the missing
/// ping is the signal.
/// </summary>
/// <example>
/// <code>
/// var outcome = await Heartbeat.SendAsync(record, new HeartbeatOptions { Url = new("https://hc-ping.com/…") }, ct);
/// if (!outcome.Sent) Console.Error.WriteLine(outcome.Message);
/// </code>
/// </example>
public static class Heartbeat
{
    internal static readonly HttpClient SharedClient = new() { Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>Pings <see cref="HeartbeatOptions.Url"/> with a short plain-text summary (POST), retrying on errors and 5xx/429.</summary>
    public static async Task<DeliveryOutcome> SendAsync(DrillRecord record, HeartbeatOptions options, CancellationToken cancellationToken)
    {
        if (record.Verdict != DrillVerdict.Passed)
            return new DeliveryOutcome(false, 0, null, $"No heartbeat sent: the drill's verdict is {record.Verdict}; the missing ping is what raises the alarm.");
        var body = Summary(record);
        return await Delivery.SendAsync(
            () => new HttpRequestMessage(HttpMethod.Post, options.Url) { Content = new StringContent(body, Encoding.UTF8, "text/plain") },
            "heartbeat", options.Url, options.Attempts, options.AttemptTimeout, options.RetryDelay, options.HttpClient ?? SharedClient, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The body sent with the ping: one line a human reads in the monitor's event log.</summary>
    public static string Summary(DrillRecord record) => Redactor.Redact(string.Create(CultureInfo.InvariantCulture,
        $"restoreops drill {record.DrillId} {record.Verdict.ToString().ToLowerInvariant()} source={record.Source ?? DrillHistory.UnknownSource} backup={record.Backup?.Id ?? "-"} backup_age_s={record.BackupAge?.TotalSeconds:0.###} data_age_s={record.DataAge?.TotalSeconds:0.###} restore_s={record.RestoreDuration?.TotalSeconds:0.###}\n"))!;
}

/// <summary>Bounded retries with a per-attempt timeout, shared by the heartbeat and the Pushgateway push.</summary>
internal static class Delivery
{
    public static async Task<DeliveryOutcome> SendAsync(Func<HttpRequestMessage> request, string what, Uri url, int attempts, TimeSpan attemptTimeout,
        TimeSpan retryDelay, HttpClient client, CancellationToken cancellationToken)
    {
        // Ping URLs embed their secret in the path; messages name only the host.
        var where = $"{url.Scheme}://{url.Authority}";
        attempts = Math.Max(1, attempts);
        var delay = retryDelay;
        string? last = null;
        int? status = null;
        for (var attempt = 1; attempt <= attempts; attempt++)
        {
            if (attempt > 1 && delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay += delay;
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(attemptTimeout);
            try
            {
                using var message = request();
                using var response = await client.SendAsync(message, timeout.Token).ConfigureAwait(false);
                status = (int)response.StatusCode;
                if (response.IsSuccessStatusCode)
                    return new DeliveryOutcome(true, attempt, status, $"{what} delivered to {where} (HTTP {status}, attempt {attempt} of {attempts}).");
                var text = await SafeBodyAsync(response, timeout.Token).ConfigureAwait(false);
                last = $"HTTP {status} {response.ReasonPhrase}{(text.Length == 0 ? "" : ": " + text)}";
                // 4xx other than 408/429 will not get better by asking again.
                if (status is >= 400 and < 500 and not 408 and not 429) return Failed(what, where, attempt, attempts, status, last);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                last = $"no answer within {attemptTimeout.TotalSeconds:0.#} s";
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }
        }
        return Failed(what, where, attempts, attempts, status, last);
    }

    private static DeliveryOutcome Failed(string what, string where, int attempt, int attempts, int? status, string? last) =>
        new(false, attempt, status, Redactor.Redact($"{what} to {where} failed after {attempt} of {attempts} attempt(s): {last}. The drill record is unaffected; check the URL and that {where} is reachable from this host.")!);

    private static async Task<string> SafeBodyAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            var text = (await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false)).Trim();
            return text.Length > 200 ? text[..200] + "…" : text;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            return "";
        }
    }
}
