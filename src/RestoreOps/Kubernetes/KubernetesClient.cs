using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RestoreOps.Kubernetes;

/// <summary>
/// The real <see cref="IKubernetesApi"/>: plain HTTPS + JSON against the API server, with the kubeconfig's or
/// service account's credentials. One instance per context; safe for concurrent use.
/// </summary>
/// <example>
/// <code>
/// using var api = new KubernetesClient(KubernetesConfig.Load());
/// var backups = await api.ListAsync(ResourceKind.Backup, "prod", "cnpg.io/cluster=pg", null, ct);
/// await using var forward = await api.PortForwardAsync("drills", "pg-restore-1", 5432, ct);
/// var connectionString = $"Host=127.0.0.1;Port={forward.LocalPort};Username=app";
/// </code>
/// </example>
internal sealed class KubernetesClient : IKubernetesApi, IDisposable
{
    private const string PortForwardProtocol = "v4.channel.k8s.io";
    private readonly KubernetesConfig _config;
    private readonly SocketsHttpHandler _handler;
    private readonly HttpClient _http;
    private readonly string _base;
    // Exec plugins may hand out client certificates that change; the TLS callback reads the latest one.
    private volatile X509Certificate2? _pluginCertificate;

    /// <summary>Creates a client for the config's server and identity.</summary>
    public KubernetesClient(KubernetesConfig config)
    {
        _config = config;
        _handler = new SocketsHttpHandler
        {
            // Recycle connections so DNS changes of the API endpoint and rotated client certificates take effect.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = config.Timeout,
            AutomaticDecompression = DecompressionMethods.GZip,
        };
        _handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) => _config.ValidateServerCertificate(certificate, chain, errors);
        if (config.ClientCertificate is not null || config.Credentials is ExecCredential)
            _handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => _pluginCertificate ?? _config.ClientCertificate!;
        _http = new HttpClient(_handler, disposeHandler: false) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("restoreops", typeof(KubernetesClient).Assembly.GetName().Version?.ToString(3) ?? "0"));
        _base = config.Context.Server.AbsoluteUri.TrimEnd('/');
    }

    /// <inheritdoc />
    public KubernetesContext Context => _config.Context;

    /// <summary>Objects per list page; the client follows <c>continue</c> until the end.</summary>
    public int PageSize { get; init; } = 500;

    /// <inheritdoc />
    public async Task<JsonObject> GetAsync(ResourceKind kind, string? ns, string name, CancellationToken ct)
    {
        ns = ObjectNamespace(kind, ns);
        var request = new KubernetesRequest("get", kind, ns, name);
        using var response = await SendAsync(HttpMethod.Get, kind.ObjectPath(ns, name), null, request, streaming: false, ct).ConfigureAwait(false);
        return WithType(await ReadObjectAsync(response, ct).ConfigureAwait(false), kind);
    }

    /// <inheritdoc />
    public async Task<JsonObject?> TryGetAsync(ResourceKind kind, string? ns, string name, CancellationToken ct)
    {
        try
        {
            return await GetAsync(kind, ns, name, ct).ConfigureAwait(false);
        }
        catch (KubernetesNotFoundException e) when (!e.ResourceTypeMissing)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public async Task<KubernetesList> ListAsync(ResourceKind kind, string? ns, string? labelSelector, string? fieldSelector, CancellationToken ct)
    {
        ns = CollectionNamespace(kind, ns);
        var request = new KubernetesRequest("list", kind, ns, null);
        var items = new List<JsonObject>();
        string? resourceVersion = null;
        string? next = null;
        var paged = true;
        while (true)
        {
            var query = Query(("labelSelector", labelSelector), ("fieldSelector", fieldSelector),
                ("limit", paged ? PageSize.ToString(System.Globalization.CultureInfo.InvariantCulture) : null), ("continue", next));
            JsonObject page;
            try
            {
                using var response = await SendAsync(HttpMethod.Get, kind.CollectionPath(ns) + query, null, request, streaming: false, ct).ConfigureAwait(false);
                page = await ReadObjectAsync(response, ct).ConfigureAwait(false);
            }
            catch (KubernetesGoneException) when (next is not null)
            {
                // The continue token outlived the server's compaction window: take one consistent unpaged list instead.
                items.Clear();
                resourceVersion = null;
                next = null;
                paged = false;
                continue;
            }
            foreach (var item in (page["items"] as JsonArray ?? []).OfType<JsonObject>())
                items.Add(WithType((JsonObject)item.DeepClone(), kind));
            // Every page of one list shares the snapshot of the first.
            resourceVersion ??= (string?)page["metadata"]?["resourceVersion"] ?? "";
            next = (string?)page["metadata"]?["continue"] is { Length: > 0 } c ? c : null;
            if (next is null)
                break;
        }
        return new KubernetesList(items, resourceVersion ?? "");
    }

    /// <inheritdoc />
    public async Task<JsonObject> CreateAsync(ResourceKind kind, string? ns, JsonObject obj, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(obj);
        ns = ObjectNamespace(kind, ns);
        var body = (JsonObject)obj.DeepClone();
        body["apiVersion"] ??= kind.ApiVersion;
        body["kind"] ??= kind.Kind;
        var metadata = body["metadata"] as JsonObject ?? new JsonObject();
        body["metadata"] = metadata;
        var name = (string?)metadata["name"] ?? (string?)metadata["generateName"];
        if (name is null)
            throw new ConfigurationException($"The {kind.Kind} to create has no metadata.name.", "set metadata.name (or metadata.generateName).");
        if (ns is not null)
        {
            if ((string?)metadata["namespace"] is { } own && own != ns)
                throw new ConfigurationException(
                    $"The {kind.Kind} \"{name}\" says namespace \"{own}\" but is being created in namespace \"{ns}\".",
                    "remove metadata.namespace or pass the same namespace.");
            metadata["namespace"] = ns;
        }
        var request = new KubernetesRequest("create", kind, ns, name);
        using var response = await SendAsync(HttpMethod.Post, kind.CollectionPath(ns), body, request, streaming: false, ct).ConfigureAwait(false);
        return WithType(await ReadObjectAsync(response, ct).ConfigureAwait(false), kind);
    }

    /// <inheritdoc />
    public async Task<bool> DeleteAsync(ResourceKind kind, string? ns, string name, DeletePropagation propagation, CancellationToken ct)
    {
        ns = ObjectNamespace(kind, ns);
        var request = new KubernetesRequest("delete", kind, ns, name);
        var options = new JsonObject
        {
            ["kind"] = "DeleteOptions",
            ["apiVersion"] = "v1",
            ["propagationPolicy"] = propagation.ToString(),
        };
        try
        {
            using var response = await SendAsync(HttpMethod.Delete, kind.ObjectPath(ns, name), options, request, streaming: false, ct).ConfigureAwait(false);
            return true;
        }
        catch (KubernetesNotFoundException e) when (!e.ResourceTypeMissing)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<WatchEvent> WatchAsync(ResourceKind kind, string? ns, string? labelSelector, string? fieldSelector,
        string? resourceVersion, [EnumeratorCancellation] CancellationToken ct)
    {
        ns = CollectionNamespace(kind, ns);
        var request = new KubernetesRequest("watch", kind, ns, null);
        // Last known state per object: after 410 Gone the re-list is diffed against it, so deletions that
        // happened while the watch was broken still reach the consumer.
        var known = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        var relist = resourceVersion is null;
        var relistIsRecovery = false;
        var idleBackoff = TimeSpan.Zero;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (relist)
            {
                var list = await ListAsync(kind, ns ?? IKubernetesApi.AllNamespaces, labelSelector, fieldSelector, ct).ConfigureAwait(false);
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var item in list.Items)
                {
                    var key = Key(item);
                    seen.Add(key);
                    var type = known.ContainsKey(key) ? WatchEventType.Modified : WatchEventType.Added;
                    known[key] = item;
                    yield return new WatchEvent(type, item, relistIsRecovery);
                }
                foreach (var gone in known.Keys.Where(k => !seen.Contains(k)).ToList())
                {
                    yield return new WatchEvent(WatchEventType.Deleted, known[gone], relistIsRecovery);
                    known.Remove(gone);
                }
                resourceVersion = list.ResourceVersion;
                relist = false;
            }

            var query = Query(("watch", "true"), ("allowWatchBookmarks", "true"), ("resourceVersion", resourceVersion),
                ("labelSelector", labelSelector), ("fieldSelector", fieldSelector),
                ("timeoutSeconds", Random.Shared.Next(300, 600).ToString(System.Globalization.CultureInfo.InvariantCulture)));
            var response = await OpenWatchAsync(kind.CollectionPath(ns) + query, request, ct).ConfigureAwait(false);
            if (response is null)
            {
                relist = relistIsRecovery = true;
                continue;
            }
            var received = 0;
            using (response)
            using (var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false), Encoding.UTF8))
            {
                while (await ReadLineAsync(reader, ct).ConfigureAwait(false) is { } line)
                {
                    if (line.Length == 0)
                        continue;
                    var e = JsonNode.Parse(line) as JsonObject;
                    var obj = e?["object"] as JsonObject;
                    if (e is null || obj is null)
                        continue;
                    received++;
                    var type = (string?)e["type"];
                    if (type == "ERROR")
                    {
                        var code = (int?)obj["code"] ?? 500;
                        if (code == 410)
                        {
                            relist = relistIsRecovery = true;
                            break;
                        }
                        throw KubernetesErrorMapper.FromResponse(code, obj, null, request, Context);
                    }
                    obj = (JsonObject)obj.DeepClone();
                    if ((string?)obj["metadata"]?["resourceVersion"] is { Length: > 0 } rv)
                        resourceVersion = rv;
                    if (type == "BOOKMARK")
                    {
                        yield return new WatchEvent(WatchEventType.Bookmark, obj);
                        continue;
                    }
                    var eventType = type switch
                    {
                        "ADDED" => WatchEventType.Added,
                        "MODIFIED" => WatchEventType.Modified,
                        "DELETED" => WatchEventType.Deleted,
                        _ => (WatchEventType?)null,
                    };
                    if (eventType is null)
                        continue;
                    WithType(obj, kind);
                    if (eventType == WatchEventType.Deleted)
                        known.Remove(Key(obj));
                    else
                        known[Key(obj)] = obj;
                    yield return new WatchEvent(eventType.Value, obj);
                }
            }
            // A server (or proxy) that closes watches at once must not turn this loop into a busy one.
            idleBackoff = received > 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Min(10_000, Math.Max(250, idleBackoff.TotalMilliseconds * 2)));
            if (idleBackoff > TimeSpan.Zero && !relist)
                await Task.Delay(idleBackoff, ct).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task<PortForward> PortForwardAsync(string? ns, string pod, int port, CancellationToken ct)
    {
        if (port is <= 0 or > 65535)
            throw new ConfigurationException($"Port {port} is not a valid TCP port for a port-forward to pod \"{pod}\".", "use 1–65535 (5432 for PostgreSQL).");
        ns = ObjectNamespace(ResourceKind.Pod, ns);
        // Fail here, with a typed 404/403, rather than on the first local connection.
        var podObject = await GetAsync(ResourceKind.Pod, ns, pod, ct).ConfigureAwait(false);
        if ((string?)podObject["status"]?["phase"] is { } phase && phase != "Running")
            throw new InfrastructureException(
                $"Pod \"{pod}\" in namespace \"{ns}\" is {phase}, so port {port} cannot be forwarded to it.",
                "wait until the pod is Running (kubectl describe pod shows why it is not).");
        var nsName = ns!;
        return PortForward.Start(nsName, pod, port, token => ConnectPortForwardAsync(nsName, pod, port, token));
    }

    private async Task<WebSocket> ConnectPortForwardAsync(string ns, string pod, int port, CancellationToken ct)
    {
        // A WebSocket upgrade is a GET, which the API server authorizes as verb "get" on pods/portforward (kubectl's
        // SPDY POST is "create"): a 403 must name the verb that was refused.
        var request = new KubernetesRequest("get", ResourceKind.Pod, ns, pod, "portforward");
        var scheme = _config.Context.Server.Scheme == "https" ? "wss" : "ws";
        var uri = new Uri($"{scheme}{_base[_config.Context.Server.Scheme.Length..]}{ResourceKind.Pod.ObjectPath(ns, pod)}/portforward?ports={port}");
        for (var attempt = 0; ; attempt++)
        {
            var credential = await _config.Credentials.GetAsync(ct).ConfigureAwait(false);
            _pluginCertificate = credential.ClientCertificate;
            var socket = new ClientWebSocket();
            socket.Options.AddSubProtocol(PortForwardProtocol);
            socket.Options.CollectHttpResponseDetails = true;
            if (credential.Token is not null)
                socket.Options.SetRequestHeader("Authorization", "Bearer " + credential.Token);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_config.Timeout);
            try
            {
                await socket.ConnectAsync(uri, new HttpMessageInvoker(_handler, disposeHandler: false), timeout.Token).ConfigureAwait(false);
                if (socket.SubProtocol != PortForwardProtocol)
                {
                    socket.Dispose();
                    throw new InfrastructureException(
                        $"The Kubernetes API at {Context.Server} did not accept the {PortForwardProtocol} port-forward protocol for pod \"{pod}\".",
                        "use a Kubernetes version that serves WebSocket port-forwarding, or kubectl port-forward.");
                }
                return socket;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                socket.Dispose();
                throw;
            }
            catch (Exception e) when (e is WebSocketException or HttpRequestException or OperationCanceledException or IOException)
            {
                var status = (int)socket.HttpStatusCode;
                socket.Dispose();
                if (status == 401 && attempt == 0 && _config.Credentials.Invalidate())
                    continue;
                if (status >= 400)
                    throw KubernetesErrorMapper.FromResponse(status, null, null, request, Context);
                throw KubernetesErrorMapper.FromTransport(e, request, Context, _config.Timeout);
            }
        }
    }

    /// <summary>Disposes the connection pool.</summary>
    public void Dispose()
    {
        _http.Dispose();
        _handler.Dispose();
    }

    private async Task<HttpResponseMessage?> OpenWatchAsync(string pathAndQuery, KubernetesRequest request, CancellationToken ct)
    {
        try
        {
            return await SendAsync(HttpMethod.Get, pathAndQuery, null, request, streaming: true, ct).ConfigureAwait(false);
        }
        catch (KubernetesGoneException)
        {
            return null;
        }
    }

    private static async Task<string?> ReadLineAsync(StreamReader reader, CancellationToken ct)
    {
        try
        {
            return await reader.ReadLineAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or HttpRequestException && !ct.IsCancellationRequested)
        {
            // A dropped watch connection is routine (idle timeouts, API server restarts): resume from the last version.
            return null;
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string pathAndQuery, JsonObject? body, KubernetesRequest request, bool streaming, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var credential = await _config.Credentials.GetAsync(ct).ConfigureAwait(false);
            _pluginCertificate = credential.ClientCertificate;
            using var message = new HttpRequestMessage(method, _base + pathAndQuery);
            message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            if (credential.Token is not null)
                message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential.Token);
            if (body is not null)
                message.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            // For watches the timeout covers only the wait for headers; the stream itself lives until cancelled.
            timeout.CancelAfter(_config.Timeout);
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(message, streaming ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
            {
                throw KubernetesErrorMapper.FromTransport(e, request, Context, _config.Timeout);
            }

            if (response.IsSuccessStatusCode)
                return response;
            using (response)
            {
                // Rotated tokens and expired plugin credentials show up as 401: refresh once before giving up.
                if (response.StatusCode == HttpStatusCode.Unauthorized && attempt == 0 && _config.Credentials.Invalidate())
                    continue;
                var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                JsonObject? status = null;
                try
                {
                    if (JsonNode.Parse(text) is JsonObject o && (string?)o["kind"] == "Status")
                        status = o;
                }
                catch (JsonException)
                {
                }
                throw KubernetesErrorMapper.FromResponse((int)response.StatusCode, status, text, request, Context);
            }
        }
    }

    private async Task<JsonObject> ReadObjectAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                return await JsonNode.ParseAsync(stream, cancellationToken: ct).ConfigureAwait(false) as JsonObject
                    ?? throw new JsonException("not an object");
            }
            catch (JsonException e)
            {
                throw new InfrastructureException(
                    $"The Kubernetes API at {Context.Server} answered with something that is not a JSON object ({e.Message}).",
                    "check that the server URL points at the API server and not at a proxy or web page.", e);
            }
        }
    }

    private string? ObjectNamespace(ResourceKind kind, string? ns)
    {
        if (!kind.Namespaced)
            return null;
        if (ns == IKubernetesApi.AllNamespaces)
            throw new ConfigurationException($"A single {kind.Kind} needs one namespace, not all namespaces.", "pass the object's namespace.");
        return ns ?? Context.Namespace;
    }

    private string? CollectionNamespace(ResourceKind kind, string? ns) =>
        !kind.Namespaced || ns == IKubernetesApi.AllNamespaces ? null : ns ?? Context.Namespace;

    private static JsonObject WithType(JsonObject obj, ResourceKind kind)
    {
        obj["apiVersion"] ??= kind.ApiVersion;
        obj["kind"] ??= kind.Kind;
        return obj;
    }

    private static string Key(JsonObject obj) =>
        $"{(string?)obj["metadata"]?["namespace"]}/{(string?)obj["metadata"]?["name"]}";

    private static string Query(params (string Key, string? Value)[] parameters)
    {
        var parts = parameters.Where(p => p.Value is not null).Select(p => $"{p.Key}={Uri.EscapeDataString(p.Value!)}").ToList();
        return parts.Count == 0 ? "" : "?" + string.Join("&", parts);
    }
}
