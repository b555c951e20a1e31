using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RestoreOps.Kubernetes;

/// <summary>What one request authenticates with. ToString never shows the token.</summary>
internal sealed record KubernetesCredential(string? Token, X509Certificate2? ClientCertificate, DateTimeOffset? Expiry)
{
    public override string ToString() =>
        $"KubernetesCredential {{ Token = {(Token is null ? "none" : "***")}, ClientCertificate = {ClientCertificate?.Subject ?? "none"}, Expiry = {Expiry?.ToString("O") ?? "none"} }}";
}

/// <summary>Where credentials come from; some of them change while a drill runs (rotated files, expiring plugins).</summary>
internal abstract class CredentialSource
{
    public abstract ValueTask<KubernetesCredential> GetAsync(CancellationToken ct);

    /// <summary>The server said 401: the next <see cref="GetAsync"/> must not reuse what it has.</summary>
    public virtual bool Invalidate() => false;

    public static CredentialSource None { get; } = new StaticCredential(new KubernetesCredential(null, null, null));
}

internal sealed class StaticCredential(KubernetesCredential credential) : CredentialSource
{
    public override ValueTask<KubernetesCredential> GetAsync(CancellationToken ct) => ValueTask.FromResult(credential);
}

/// <summary>
/// A token kept in a file that someone else rewrites: projected service-account tokens rotate (hourly by
/// default) and kubeconfig <c>tokenFile</c> exists for the same reason. Re-read when the file changes and at
/// least every <c>maxAge</c>, as client-go does, so a long drill never sends a stale token.
/// </summary>
internal sealed class TokenFileCredential(string path, string origin, TimeProvider time, TimeSpan maxAge) : CredentialSource
{
    private readonly object _gate = new();
    private KubernetesCredential? _cached;
    private DateTime _writeTime;
    private long _length;
    private DateTimeOffset _readAt;

    public override ValueTask<KubernetesCredential> GetAsync(CancellationToken ct)
    {
        lock (_gate)
        {
            // FileInfo on a symlink reports the link's own timestamps; the kubelet rotates by swapping a link
            // further down (token -> ..data/token, ..data -> ..<timestamp>), so look at what it finally points to.
            var link = new FileInfo(path);
            var info = (link.Exists ? link.ResolveLinkTarget(returnFinalTarget: true) as FileInfo : null) ?? link;
            if (!info.Exists)
                throw new ConfigurationException(
                    $"The token file \"{path}\" ({origin}) does not exist.",
                    origin.StartsWith("in-cluster", StringComparison.Ordinal)
                        ? "mount the service account token (automountServiceAccountToken: true) or run with a kubeconfig."
                        : "correct tokenFile in the kubeconfig or create the file.");
            if (_cached is null || info.LastWriteTimeUtc != _writeTime || info.Length != _length || time.GetUtcNow() - _readAt >= maxAge)
            {
                string token;
                try { token = File.ReadAllText(path).Trim(); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new ConfigurationException($"The token file \"{path}\" ({origin}) could not be read: {e.Message}", "make it readable by this user.", e);
                }
                if (token.Length == 0)
                    throw new ConfigurationException($"The token file \"{path}\" ({origin}) is empty.", "write the bearer token into it, or fix the path.");
                _cached = new KubernetesCredential(token, null, null);
                _writeTime = info.LastWriteTimeUtc;
                _length = info.Length;
                _readAt = time.GetUtcNow();
            }
            return ValueTask.FromResult(_cached);
        }
    }

    public override bool Invalidate()
    {
        lock (_gate)
            _cached = null;
        return true;
    }
}

/// <summary>The <c>exec</c> section of a kubeconfig user (client.authentication.k8s.io v1 / v1beta1).</summary>
internal sealed record ExecPluginSettings(
    string Command,
    IReadOnlyList<string> Args,
    IReadOnlyList<KeyValuePair<string, string>> Env,
    string ApiVersion,
    string? InstallHint,
    bool ProvideClusterInfo,
    string InteractiveMode)
{
    public const string V1 = "client.authentication.k8s.io/v1";
    public const string V1Beta1 = "client.authentication.k8s.io/v1beta1";
}

/// <summary>
/// Runs a credential plugin (aws eks get-token, gke-gcloud-auth-plugin, kubelogin…) and keeps its answer until
/// the expiry it states: plugins can be slow (hundreds of ms to seconds) and some are rate-limited.
/// </summary>
internal sealed class ExecCredential(ExecPluginSettings settings, string userName, JsonObject? clusterInfo, TimeProvider time) : CredentialSource
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private KubernetesCredential? _cached;

    public override async ValueTask<KubernetesCredential> GetAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_cached is not null && (_cached.Expiry is null || time.GetUtcNow() < _cached.Expiry))
                return _cached;
            _cached = await RunAsync(ct).ConfigureAwait(false);
            return _cached;
        }
        finally
        {
            _gate.Release();
        }
    }

    public override bool Invalidate()
    {
        _cached = null;
        return true;
    }

    private async Task<KubernetesCredential> RunAsync(CancellationToken ct)
    {
        var what = $"exec credential plugin \"{settings.Command}\" of kubeconfig user \"{userName}\"";
        if (settings.InteractiveMode == "Always")
            throw new ConfigurationException(
                $"The {what} has interactiveMode: Always, but RestoreOps runs without a terminal for it.",
                "log in once interactively (e.g. with kubectl) so the plugin caches a token, or set interactiveMode: IfAvailable / Never.");

        var psi = new ProcessStartInfo(settings.Command)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in settings.Args)
            psi.ArgumentList.Add(a);
        foreach (var (k, v) in settings.Env)
            psi.Environment[k] = v;
        var spec = new JsonObject { ["interactive"] = false };
        if (settings.ProvideClusterInfo && clusterInfo is not null)
            spec["cluster"] = clusterInfo.DeepClone();
        psi.Environment["KUBERNETES_EXEC_INFO"] = new JsonObject
        {
            ["kind"] = "ExecCredential",
            ["apiVersion"] = settings.ApiVersion,
            ["spec"] = spec,
        }.ToJsonString();

        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new Win32Exception("process did not start");
        }
        catch (Win32Exception e)
        {
            throw new ConfigurationException(
                $"The {what} could not be started: {e.Message}.",
                settings.InstallHint is { Length: > 0 } hint ? $"install it. The kubeconfig says: {hint.Trim()}" : "install it or correct users[].user.exec.command in the kubeconfig.",
                e);
        }

        using (process)
        {
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = process.StandardError.ReadToEndAsync(ct);
            try
            {
                await process.WaitForExitAsync(ct).ConfigureAwait(false);
                await Task.WhenAll(stdout, stderr).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                throw;
            }

            if (process.ExitCode != 0)
                throw new InfrastructureException(
                    $"The {what} exited with code {process.ExitCode}: {Truncate(stderr.Result)}",
                    "run the command by hand to see why it fails (expired login, missing cloud credentials) and fix that.");
            return Parse(stdout.Result, what);
        }
    }

    private KubernetesCredential Parse(string output, string what)
    {
        JsonObject? root;
        try { root = JsonNode.Parse(output) as JsonObject; }
        catch (JsonException) { root = null; }
        if (root is null || (string?)root["kind"] != "ExecCredential")
            throw new InfrastructureException($"The {what} did not print an ExecCredential JSON object.", "check that the plugin and its arguments are meant for kubectl authentication.");
        if ((string?)root["apiVersion"] is { } v && v != settings.ApiVersion)
            throw new ConfigurationException(
                $"The {what} answered with apiVersion {v}, but the kubeconfig asks for {settings.ApiVersion}.",
                "set users[].user.exec.apiVersion to the version the plugin speaks.");
        var status = root["status"] as JsonObject
            ?? throw new InfrastructureException($"The {what} printed an ExecCredential without status.", "check the plugin's login state.");

        DateTimeOffset? expiry = null;
        if ((string?)status["expirationTimestamp"] is { Length: > 0 } ts)
        {
            if (!DateTimeOffset.TryParse(ts, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
                throw new InfrastructureException($"The {what} printed an unreadable expirationTimestamp \"{ts}\".", "update the plugin.");
            expiry = parsed;
        }

        var token = (string?)status["token"];
        X509Certificate2? certificate = null;
        if ((string?)status["clientCertificateData"] is { Length: > 0 } certPem)
        {
            var keyPem = (string?)status["clientKeyData"]
                ?? throw new InfrastructureException($"The {what} returned clientCertificateData without clientKeyData.", "update or reconfigure the plugin.");
            certificate = KubernetesConfig.LoadClientCertificate(certPem, keyPem, $"the {what}");
        }
        if (token is null && certificate is null)
            throw new InfrastructureException($"The {what} returned neither a token nor a client certificate.", "check the plugin's login state.");
        return new KubernetesCredential(token, certificate, expiry);
    }

    private static string Truncate(string s)
    {
        s = s.Trim();
        return s.Length <= 500 ? s : s[..500] + "…";
    }
}

/// <summary>Reads the subject of a service-account JWT for messages: the identity, never the token.</summary>
internal static class JwtSubject
{
    public static string? TryRead(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
            return null;
        try
        {
            var payload = parts[1].Replace('-', '+').Replace('_', '/');
            payload = payload.PadRight(payload.Length + (4 - payload.Length % 4) % 4, '=');
            return (string?)JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(payload)))?["sub"];
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException)
        {
            return null;
        }
    }
}
