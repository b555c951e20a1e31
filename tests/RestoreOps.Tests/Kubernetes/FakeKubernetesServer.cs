using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using RestoreOps.Kubernetes;

namespace RestoreOps.Tests.Kubernetes;

/// <summary>
/// An in-process Kubernetes API server over plain HTTP on 127.0.0.1 (HttpListener): objects in memory,
/// resourceVersions, list with selectors and paging, create/get/replace (status subresource too)/delete, watch with bookmarks and forced 410
/// Gone, RBAC denials, a validation hook (422) and WebSocket port-forwarding to local TCP ports.
/// </summary>
/// <example>
/// <code>
/// await using var server = new FakeKubernetesServer();
/// server.Validate = (kind, obj) => kind == ResourceKind.Cluster &amp;&amp; obj["spec"]?["instances"] is null ? ["spec.instances: Required value"] : [];
/// using var api = new KubernetesClient(server.Config());
/// </code>
/// </example>
public sealed class FakeKubernetesServer : IAsyncDisposable
{
    public const string PortForwardProtocol = "v4.channel.k8s.io";
    private static readonly ConcurrentDictionary<int, byte> UsedPorts = new();

    private readonly HttpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly object _gate = new();
    private readonly SortedDictionary<string, Stored> _objects = new(StringComparer.Ordinal);
    private readonly List<Change> _history = [];
    private readonly List<Watcher> _watchers = [];
    private readonly ConcurrentDictionary<(string Verb, string Group, string Resource, string? Namespace), byte> _denied = new();
    private readonly ConcurrentDictionary<(string Namespace, string Pod), IPEndPoint> _forwards = new();
    private readonly ConcurrentBag<Task> _handlers = [];
    private TaskCompletionSource? _hang;
    private long _revision = 100;
    private long _compactedBelow;
    private readonly List<(int Count, TaskCompletionSource Signal)> _watcherWaits = [];

    public FakeKubernetesServer()
    {
        for (var attempt = 0; ; attempt++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            // Managed HttpListener shares one socket per port inside a process, so two fakes (parallel test
            // classes) must never be handed the same port, even after one of them has stopped.
            if (!UsedPorts.TryAdd(port, 0))
                continue;
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                _listener = listener;
                Url = new Uri($"http://127.0.0.1:{port}");
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
            }
        }
        _loop = AcceptLoopAsync();
    }

    /// <summary>Base URL, e.g. http://127.0.0.1:41234.</summary>
    public Uri Url { get; }

    /// <summary>Returns causes ("field: message" or a bare message) to reject a created object with 422 Invalid.</summary>
    internal Func<ResourceKind, JsonObject, IReadOnlyList<string>>? Validate { get; set; }

    /// <summary>Decides from the Authorization header whether a request is authenticated (null: everyone is). False → 401.</summary>
    public Func<string?, bool>? Authenticate { get; set; }

    /// <summary>The identity named in 403 messages.</summary>
    public string DeniedUser { get; set; } = "system:serviceaccount:ci:restoreops";

    /// <summary>When true a watch from a compacted resourceVersion is refused with HTTP 410 instead of an ERROR event in a 200 stream.</summary>
    public bool GoneAsHttpStatus { get; set; }

    /// <summary>Runs after each list response is written (e.g. to expire history between two pages).</summary>
    public Action? AfterList { get; set; }

    /// <summary>API groups the server does not serve (CRD not installed): any request to them is a bare 404.</summary>
    public ConcurrentDictionary<string, byte> UnservedGroups { get; } = new();

    /// <summary>Every request seen. Holds Authorization headers: assert on them, never print them.</summary>
    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>
    /// The requests RestoreOps made: all but the operator simulator's, which plays the operator through the API too and
    /// authenticates with the token "operator" (its Backups and credentials are test setup, not RestoreOps' writes).
    /// </summary>
    public IEnumerable<RecordedRequest> ClientRequests => Requests.Where(r => r.Authorization != "Bearer operator");

    /// <summary>Currently open watch streams.</summary>
    public int ActiveWatchers { get { lock (_gate) return _watchers.Count; } }

    /// <summary>A client config pointing here.</summary>
    internal KubernetesConfig Config(string? token = "test-token", string ns = "default") => KubernetesConfig.ForServer(Url, token, ns, "tester");

    /// <summary>Makes every following request of <paramref name="verb"/> on the kind (in <paramref name="ns"/>, or anywhere) fail with 403.</summary>
    internal void Deny(string verb, ResourceKind kind, string? ns = null, string? subresource = null) =>
        _denied.TryAdd((verb, kind.Group, subresource is null ? kind.Plural : $"{kind.Plural}/{subresource}", ns), 0);

    /// <summary>Port-forwards to pod <paramref name="pod"/> go to <paramref name="target"/>.</summary>
    public void MapPortForward(string ns, string pod, IPEndPoint target) => _forwards[(ns, pod)] = target;

    /// <summary>Forgets the port-forward target of a pod (the pod is gone): later forwards to it fail.</summary>
    public void UnmapPortForward(string ns, string pod) => _forwards.TryRemove((ns, pod), out _);

    /// <summary>Requests wait (no answer) until <see cref="ReleaseRequests"/> or disposal: for timeout tests.</summary>
    public void HangRequests() => _hang = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void ReleaseRequests() => Interlocked.Exchange(ref _hang, null)?.TrySetResult();

    /// <summary>Completes when at least <paramref name="count"/> watch streams are open.</summary>
    public Task WaitForWatchersAsync(int count)
    {
        lock (_gate)
        {
            if (_watchers.Count >= count)
                return Task.CompletedTask;
            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _watcherWaits.Add((count, signal));
            return signal.Task;
        }
    }

    /// <summary>Stores (creates or replaces) an object as if another client wrote it; watches see ADDED/MODIFIED.</summary>
    internal JsonObject Put(ResourceKind kind, JsonObject obj)
    {
        lock (_gate)
        {
            var copy = (JsonObject)obj.DeepClone();
            var metadata = copy["metadata"] as JsonObject ?? throw new ArgumentException("metadata required");
            var ns = kind.Namespaced ? (string?)metadata["namespace"] ?? "default" : null;
            var key = Key(kind, ns, (string)metadata["name"]!);
            var existed = _objects.TryGetValue(key, out var old);
            Stamp(copy, kind, ns, old?.Object);
            _objects[key] = new Stored(kind, copy);
            Record(kind, existed ? "MODIFIED" : "ADDED", copy);
            return (JsonObject)copy.DeepClone();
        }
    }

    /// <summary>Changes a stored object in place; watches see MODIFIED.</summary>
    internal JsonObject Update(ResourceKind kind, string? ns, string name, Action<JsonObject> change)
    {
        lock (_gate)
        {
            var stored = _objects[Key(kind, kind.Namespaced ? ns : null, name)];
            change(stored.Object);
            stored.Object["metadata"]!["resourceVersion"] = (++_revision).ToString(CultureInfo.InvariantCulture);
            Record(kind, "MODIFIED", stored.Object);
            return (JsonObject)stored.Object.DeepClone();
        }
    }

    /// <summary>Deletes a stored object as another client would; watches see DELETED.</summary>
    internal bool Remove(ResourceKind kind, string? ns, string name)
    {
        lock (_gate)
        {
            var key = Key(kind, kind.Namespaced ? ns : null, name);
            if (!_objects.Remove(key, out var stored))
                return false;
            stored.Object["metadata"]!["resourceVersion"] = (++_revision).ToString(CultureInfo.InvariantCulture);
            Record(kind, "DELETED", stored.Object);
            return true;
        }
    }

    /// <summary>Reads a stored object (a copy), or null.</summary>
    internal JsonObject? Find(ResourceKind kind, string? ns, string name)
    {
        lock (_gate)
            return _objects.TryGetValue(Key(kind, kind.Namespaced ? ns : null, name), out var s) ? (JsonObject)s.Object.DeepClone() : null;
    }

    /// <summary>Sends a BOOKMARK with the current resourceVersion to every watch that allows bookmarks.</summary>
    public void SendBookmark()
    {
        lock (_gate)
        {
            foreach (var w in _watchers.Where(w => w.Bookmarks))
                w.Lines.Writer.TryWrite(new JsonObject
                {
                    ["type"] = "BOOKMARK",
                    ["object"] = new JsonObject
                    {
                        ["kind"] = w.Kind.Kind,
                        ["apiVersion"] = w.Kind.ApiVersion,
                        ["metadata"] = new JsonObject { ["resourceVersion"] = _revision.ToString(CultureInfo.InvariantCulture) },
                    },
                }.ToJsonString());
        }
    }

    /// <summary>
    /// Forgets all history up to now, as etcd compaction does: open watches get an ERROR event with code 410 and
    /// end, and any watch from an older resourceVersion is refused with 410 Gone.
    /// </summary>
    /// <param name="whileDisconnected">Changes made after open watches are cut off and before any client can re-list: the state a re-list must recover.</param>
    public void ExpireHistory(Action? whileDisconnected = null)
    {
        lock (_gate)
        {
            var cut = _watchers.ToList();
            _watchers.Clear();
            whileDisconnected?.Invoke();
            _compactedBelow = _revision + 1;
            _history.Clear();
            foreach (var w in cut)
            {
                w.Lines.Writer.TryWrite(new JsonObject { ["type"] = "ERROR", ["object"] = Status(410, "Expired", "too old resource version: 1 (" + _revision + ")") }.ToJsonString());
                w.Lines.Writer.TryComplete();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        ReleaseRequests();
        lock (_gate)
            foreach (var w in _watchers)
                w.Lines.Writer.TryComplete();
        try { _listener.Stop(); } catch (HttpListenerException) { }
        try { await _loop; } catch (Exception) { }
        try { await Task.WhenAll(_handlers).WaitAsync(TimeSpan.FromSeconds(10)); } catch (Exception) { }
        try { _listener.Close(); } catch (HttpListenerException) { }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) { return; }
            _handlers.Add(Task.Run(() => HandleAsync(context)));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        try
        {
            string? body = null;
            if (request.HasEntityBody)
            {
                using var reader = new StreamReader(request.InputStream, Encoding.UTF8);
                body = await reader.ReadToEndAsync();
            }
            var authorization = request.Headers["Authorization"];
            Requests.Enqueue(new RecordedRequest(request.HttpMethod, request.Url!.AbsolutePath, request.Url.Query, authorization, body));
            if (_hang is { } hang)
                await hang.Task.WaitAsync(_stop.Token);

            if (Authenticate is { } authenticate && !authenticate(authorization))
            {
                await WriteAsync(response, 401, Status(401, "Unauthorized", "Unauthorized"));
                return;
            }
            var route = Route.Parse(request.Url.AbsolutePath);
            if (route is null || UnservedGroups.ContainsKey(route.Kind.Group))
            {
                await WriteAsync(response, 404, Status(404, "NotFound", "the server could not find the requested resource"));
                return;
            }
            var query = System.Web.HttpUtility.ParseQueryString(request.Url.Query);
            // As the real API server: a WebSocket port-forward is a GET, authorized as "get" on pods/portforward.
            var verb = route.Subresource == "portforward" ? "get"
                : request.HttpMethod switch
                {
                    "GET" when query["watch"] == "true" => "watch",
                    "GET" when route.Name is null => "list",
                    "GET" => "get",
                    "POST" => "create",
                    "DELETE" => "delete",
                    "PUT" => "update",
                    _ => "patch",
                };
            var resource = route.Subresource is null ? route.Kind.Plural : $"{route.Kind.Plural}/{route.Subresource}";
            if (_denied.Keys.Any(d => d.Verb == verb && d.Group == route.Kind.Group && d.Resource == resource && (d.Namespace is null || d.Namespace == route.Namespace)))
            {
                await WriteAsync(response, 403, Forbidden(verb, route, resource));
                return;
            }

            switch (verb)
            {
                case "get" when route.Subresource == "portforward":
                    await PortForwardAsync(context, route);
                    break;
                case "get":
                    {
                        JsonObject? found;
                        lock (_gate)
                            found = _objects.TryGetValue(Key(route.Kind, route.Namespace, route.Name!), out var s) ? (JsonObject)s.Object.DeepClone() : null;
                        await WriteAsync(response, found is null ? 404 : 200, found ?? NotFound(route));
                        break;
                    }
                case "list":
                    {
                        var list = List(route, query);
                        await WriteAsync(response, list is null ? 410 : 200, list ?? Status(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter."));
                        AfterList?.Invoke();
                        break;
                    }
                case "watch":
                    await WatchAsync(context, route, query);
                    break;
                case "create":
                    await CreateAsync(response, route, body);
                    break;
                case "delete":
                    {
                        bool removed;
                        JsonObject? last;
                        lock (_gate)
                        {
                            last = Find(route.Kind, route.Namespace, route.Name!);
                            removed = Remove(route.Kind, route.Namespace, route.Name!);
                        }
                        await WriteAsync(response, removed ? 200 : 404, removed ? last! : NotFound(route));
                        break;
                    }
                case "update":
                    await ReplaceAsync(response, route, body);
                    break;
                default:
                    await WriteAsync(response, 405, Status(405, "MethodNotAllowed", $"{request.HttpMethod} is not supported by the fake server"));
                    break;
            }
        }
        catch (Exception e) when (e is HttpListenerException or IOException or OperationCanceledException or ObjectDisposedException or WebSocketException)
        {
            // The client went away or the server is stopping.
        }
        finally
        {
            try { response.Close(); } catch (Exception) { }
        }
    }

    private JsonObject? List(Route route, System.Collections.Specialized.NameValueCollection query)
    {
        var limit = int.TryParse(query["limit"], out var l) && l > 0 ? l : int.MaxValue;
        var token = query["continue"] is { } t ? Encoding.UTF8.GetString(Convert.FromBase64String(t)).Split('|', 2) : null;
        var after = token?[1];
        lock (_gate)
        {
            if (token is not null && long.Parse(token[0], CultureInfo.InvariantCulture) < _compactedBelow)
                return null;
            var matching = _objects
                .Where(kv => Matches(kv.Value, route.Kind, route.Namespace, query["labelSelector"], query["fieldSelector"]))
                .Where(kv => after is null || string.CompareOrdinal(kv.Key, after) > 0)
                .ToList();
            var page = matching.Take(limit).ToList();
            var metadata = new JsonObject { ["resourceVersion"] = _revision.ToString(CultureInfo.InvariantCulture) };
            if (matching.Count > page.Count)
                metadata["continue"] = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{_revision}|{page[^1].Key}"));
            return new JsonObject
            {
                ["kind"] = route.Kind.Kind + "List",
                ["apiVersion"] = route.Kind.ApiVersion,
                ["metadata"] = metadata,
                // Real servers omit kind/apiVersion on items; so does this one, to keep clients honest.
                ["items"] = new JsonArray(page.Select(kv =>
                {
                    var copy = (JsonObject)kv.Value.Object.DeepClone();
                    copy.Remove("kind");
                    copy.Remove("apiVersion");
                    return (JsonNode)copy;
                }).ToArray()),
            };
        }
    }

    private async Task CreateAsync(HttpListenerResponse response, Route route, string? body)
    {
        var obj = body is null ? null : JsonNode.Parse(body) as JsonObject;
        var name = (string?)obj?["metadata"]?["name"];
        if (obj is null || name is null)
        {
            await WriteAsync(response, 400, Status(400, "BadRequest", "object or metadata.name missing"));
            return;
        }
        var causes = Validate?.Invoke(route.Kind, obj) ?? [];
        if (causes.Count > 0)
        {
            var list = new JsonArray(causes.Select(c =>
            {
                var split = c.IndexOf(": ", StringComparison.Ordinal);
                return (JsonNode)new JsonObject
                {
                    ["reason"] = "FieldValueInvalid",
                    ["message"] = split < 0 ? c : c[(split + 2)..],
                    ["field"] = split < 0 ? null : c[..split],
                };
            }).ToArray());
            var status = Status(422, "Invalid", $"{route.Kind.Kind}.{route.Kind.Group} \"{name}\" is invalid: [{string.Join(", ", causes)}]");
            status["details"] = new JsonObject { ["name"] = name, ["group"] = route.Kind.Group, ["kind"] = route.Kind.Kind, ["causes"] = list };
            await WriteAsync(response, 422, status);
            return;
        }
        JsonObject created;
        lock (_gate)
        {
            if (_objects.ContainsKey(Key(route.Kind, route.Namespace, name)))
                created = null!;
            else
            {
                obj["metadata"]!["namespace"] = route.Namespace;
                created = Put(route.Kind, obj);
            }
        }
        if (created is null)
        {
            var status = Status(409, "AlreadyExists", $"{route.Kind.QualifiedName} \"{name}\" already exists");
            status["details"] = new JsonObject { ["name"] = name, ["group"] = route.Kind.Group, ["kind"] = route.Kind.Plural };
            await WriteAsync(response, 409, status);
            return;
        }
        await WriteAsync(response, 201, created);
    }

    // PUT as a real server does it: the main resource ignores .status, the status subresource changes only .status,
    // and a stale metadata.resourceVersion is a 409 Conflict.
    private async Task ReplaceAsync(HttpListenerResponse response, Route route, string? body)
    {
        var obj = body is null ? null : JsonNode.Parse(body) as JsonObject;
        if (obj is null || route.Name is null || (route.Subresource is not (null or "status")))
        {
            await WriteAsync(response, 400, Status(400, "BadRequest", "object, name or subresource not supported by the fake server"));
            return;
        }
        JsonObject? updated = null;
        var conflict = false;
        lock (_gate)
        {
            if (_objects.TryGetValue(Key(route.Kind, route.Namespace, route.Name), out var stored))
            {
                if ((string?)obj["metadata"]?["resourceVersion"] is { Length: > 0 } rv && rv != (string?)stored.Object["metadata"]?["resourceVersion"])
                    conflict = true;
                else
                {
                    var next = (JsonObject)stored.Object.DeepClone();
                    if (route.Subresource == "status")
                        next["status"] = obj["status"]?.DeepClone();
                    else
                    {
                        foreach (var key in obj.Select(kv => kv.Key).Where(k => k is not ("status" or "metadata")).ToList())
                            next[key] = obj[key]!.DeepClone();
                        foreach (var key in new[] { "labels", "annotations", "finalizers", "ownerReferences" })
                            next["metadata"]![key] = obj["metadata"]?[key]?.DeepClone();
                    }
                    updated = Put(route.Kind, next);
                }
            }
        }
        if (conflict)
            await WriteAsync(response, 409, Status(409, "Conflict", $"Operation cannot be fulfilled on {route.Kind.QualifiedName} \"{route.Name}\": the object has been modified; please apply your changes to the latest version and try again"));
        else
            await WriteAsync(response, updated is null ? 404 : 200, updated ?? NotFound(route));
    }

    private async Task WatchAsync(HttpListenerContext context, Route route, System.Collections.Specialized.NameValueCollection query)
    {
        var response = context.Response;
        var from = query["resourceVersion"] is { Length: > 0 } rv && rv != "0" ? long.Parse(rv, CultureInfo.InvariantCulture) : (long?)null;
        var watcher = new Watcher(route.Kind, route.Namespace, query["labelSelector"], query["fieldSelector"], query["allowWatchBookmarks"] == "true");
        lock (_gate)
        {
            if (from is { } start && start + 1 < _compactedBelow)
            {
                if (GoneAsHttpStatus)
                    watcher = null!;
                else
                {
                    watcher.Lines.Writer.TryWrite(new JsonObject { ["type"] = "ERROR", ["object"] = Status(410, "Expired", $"too old resource version: {start} ({_compactedBelow})") }.ToJsonString());
                    watcher.Lines.Writer.TryComplete();
                }
            }
            else
            {
                if (from is null)
                    foreach (var s in _objects.Values.Where(s => Matches(s, route.Kind, route.Namespace, watcher.LabelSelector, watcher.FieldSelector)))
                        watcher.Lines.Writer.TryWrite(Event("ADDED", s.Object));
                else
                    foreach (var c in _history.Where(c => c.Revision > from && Matches(new Stored(c.Kind, c.Object), route.Kind, route.Namespace, watcher.LabelSelector, watcher.FieldSelector)))
                        watcher.Lines.Writer.TryWrite(Event(c.Type, c.Object));
                _watchers.Add(watcher);
                foreach (var wait in _watcherWaits.Where(w => _watchers.Count >= w.Count).ToList())
                {
                    wait.Signal.TrySetResult();
                    _watcherWaits.Remove(wait);
                }
            }
        }
        if (watcher is null)
        {
            await WriteAsync(response, 410, Status(410, "Expired", "too old resource version"));
            return;
        }
        try
        {
            response.StatusCode = 200;
            response.ContentType = "application/json";
            response.SendChunked = true;
            var output = response.OutputStream;
            await foreach (var line in watcher.Lines.Reader.ReadAllAsync(_stop.Token))
            {
                var bytes = Encoding.UTF8.GetBytes(line + "\n");
                await output.WriteAsync(bytes, _stop.Token);
                await output.FlushAsync(_stop.Token);
            }
        }
        finally
        {
            lock (_gate)
                _watchers.Remove(watcher);
        }
    }

    private async Task PortForwardAsync(HttpListenerContext context, Route route)
    {
        if (!context.Request.IsWebSocketRequest)
        {
            await WriteAsync(context.Response, 400, Status(400, "BadRequest", "Upgrade request required"));
            return;
        }
        var port = int.Parse(System.Web.HttpUtility.ParseQueryString(context.Request.Url!.Query)["ports"] ?? "0", CultureInfo.InvariantCulture);
        var accepted = await context.AcceptWebSocketAsync(PortForwardProtocol);
        using var socket = accepted.WebSocket;
        var portBytes = new byte[3];
        BinaryPrimitives.WriteUInt16LittleEndian(portBytes.AsSpan(1), (ushort)port);
        portBytes[0] = 0;
        await socket.SendAsync(portBytes, WebSocketMessageType.Binary, true, _stop.Token);
        portBytes[0] = 1;
        await socket.SendAsync(portBytes, WebSocketMessageType.Binary, true, _stop.Token);

        using var tcp = new TcpClient();
        try
        {
            if (!_forwards.TryGetValue((route.Namespace!, route.Name!), out var target))
                throw new SocketException((int)SocketError.ConnectionRefused);
            await tcp.ConnectAsync(target, _stop.Token);
        }
        catch (SocketException)
        {
            var error = Encoding.UTF8.GetBytes($"\u0001error forwarding port {port} to pod {route.Name}: failed to connect to localhost:{port} inside namespace: dial tcp4 127.0.0.1:{port}: connect: connection refused");
            await socket.SendAsync(error, WebSocketMessageType.Binary, true, _stop.Token);
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, _stop.Token);
            return;
        }
        using var relay = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        var stream = tcp.GetStream();
        var up = Task.Run(async () =>
        {
            var buffer = new byte[65536];
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(), relay.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                    return;
                // Each client frame is [channel 0][data]; the fake trusts clients to send whole frames.
                if (result.Count > 1 && buffer[0] == 0)
                    await stream.WriteAsync(buffer.AsMemory(1, result.Count - 1), relay.Token);
            }
        });
        var down = Task.Run(async () =>
        {
            var buffer = new byte[32769];
            while (true)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(1), relay.Token);
                if (read == 0)
                    return;
                buffer[0] = 0;
                await socket.SendAsync(buffer.AsMemory(0, read + 1), WebSocketMessageType.Binary, true, relay.Token);
            }
        });
        await Task.WhenAny(up, down);
        relay.Cancel();
        try { await Task.WhenAll(up, down); } catch (Exception) { }
        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            using var close = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try { await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, close.Token); } catch (Exception) { }
        }
    }

    private void Stamp(JsonObject obj, ResourceKind kind, string? ns, JsonObject? previous)
    {
        var metadata = (JsonObject)obj["metadata"]!;
        if (ns is not null)
            metadata["namespace"] = ns;
        metadata["resourceVersion"] = (++_revision).ToString(CultureInfo.InvariantCulture);
        metadata["uid"] = (string?)previous?["metadata"]?["uid"] ?? Guid.NewGuid().ToString();
        metadata["creationTimestamp"] = (string?)previous?["metadata"]?["creationTimestamp"] ?? DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        obj["apiVersion"] = kind.ApiVersion;
        obj["kind"] = kind.Kind;
    }

    private void Record(ResourceKind kind, string type, JsonObject obj)
    {
        var snapshot = (JsonObject)obj.DeepClone();
        _history.Add(new Change(_revision, kind, type, snapshot));
        var line = Event(type, snapshot);
        foreach (var w in _watchers.Where(w => Matches(new Stored(kind, snapshot), w.Kind, w.Namespace, w.LabelSelector, w.FieldSelector)))
            w.Lines.Writer.TryWrite(line);
    }

    private static string Event(string type, JsonObject obj) => new JsonObject { ["type"] = type, ["object"] = obj.DeepClone() }.ToJsonString();

    private static bool Matches(Stored stored, ResourceKind kind, string? ns, string? labelSelector, string? fieldSelector)
    {
        if (stored.Kind.Group != kind.Group || stored.Kind.Plural != kind.Plural)
            return false;
        var metadata = stored.Object["metadata"];
        if (ns is not null && (string?)metadata?["namespace"] != ns)
            return false;
        var labels = metadata?["labels"] as JsonObject;
        foreach (var requirement in Split(labelSelector))
        {
            if (requirement.StartsWith('!'))
            {
                if (labels?.ContainsKey(requirement[1..]) == true) return false;
                continue;
            }
            var (key, op, value) = Parse(requirement);
            var actual = key is null ? null : (string?)labels?[key];
            if (op is null ? labels?.ContainsKey(requirement) != true : op == "!=" ? actual == value : actual != value)
                return false;
        }
        foreach (var requirement in Split(fieldSelector))
        {
            var (path, op, value) = Parse(requirement);
            JsonNode? node = stored.Object;
            foreach (var part in path!.Split('.'))
                node = node?[part];
            var actual = node?.ToString();
            if (op == "!=" ? actual == value : actual != value)
                return false;
        }
        return true;
    }

    private static IEnumerable<string> Split(string? selector) =>
        (selector ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static (string? Key, string? Op, string? Value) Parse(string requirement)
    {
        foreach (var op in new[] { "!=", "==", "=" })
        {
            var i = requirement.IndexOf(op, StringComparison.Ordinal);
            if (i > 0)
                return (requirement[..i].Trim(), op == "==" ? "=" : op, requirement[(i + op.Length)..].Trim());
        }
        return (requirement, null, null);
    }

    private static string Key(ResourceKind kind, string? ns, string name) => $"{kind.Group}/{kind.Plural}|{ns}|{name}";

    private JsonObject Forbidden(string verb, Route route, string resource)
    {
        var what = route.Name is null ? route.Kind.QualifiedName : $"{route.Kind.QualifiedName} \"{route.Name}\"";
        var scope = route.Namespace is null ? "at the cluster scope" : $"in the namespace \"{route.Namespace}\"";
        var status = Status(403, "Forbidden",
            $"{what} is forbidden: User \"{DeniedUser}\" cannot {verb} resource \"{resource}\" in API group \"{route.Kind.Group}\" {scope}");
        status["details"] = new JsonObject { ["name"] = route.Name, ["group"] = route.Kind.Group, ["kind"] = route.Kind.Plural };
        return status;
    }

    private static JsonObject NotFound(Route route)
    {
        var status = Status(404, "NotFound", $"{route.Kind.QualifiedName} \"{route.Name}\" not found");
        status["details"] = new JsonObject { ["name"] = route.Name, ["group"] = route.Kind.Group, ["kind"] = route.Kind.Plural };
        return status;
    }

    private static JsonObject Status(int code, string reason, string message) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["code"] = code,
    };

    private static async Task WriteAsync(HttpListenerResponse response, int status, JsonObject body)
    {
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes);
    }

    private sealed record Stored(ResourceKind Kind, JsonObject Object);

    private sealed record Change(long Revision, ResourceKind Kind, string Type, JsonObject Object);

    private sealed class Watcher(ResourceKind kind, string? ns, string? labelSelector, string? fieldSelector, bool bookmarks)
    {
        public ResourceKind Kind { get; } = kind;
        public string? Namespace { get; } = ns;
        public string? LabelSelector { get; } = labelSelector;
        public string? FieldSelector { get; } = fieldSelector;
        public bool Bookmarks { get; } = bookmarks;
        public Channel<string> Lines { get; } = Channel.CreateUnbounded<string>();
    }

    private sealed record Route(ResourceKind Kind, string? Namespace, string? Name, string? Subresource)
    {
        public static Route? Parse(string path)
        {
            var segments = path.Trim('/').Split('/').Select(Uri.UnescapeDataString).ToArray();
            string group, version;
            string[] rest;
            if (segments.Length >= 3 && segments[0] == "api")
                (group, version, rest) = ("", segments[1], segments[2..]);
            else if (segments.Length >= 4 && segments[0] == "apis")
                (group, version, rest) = (segments[1], segments[2], segments[3..]);
            else
                return null;
            string? ns = null;
            if (rest.Length >= 3 && rest[0] == "namespaces")
            {
                ns = rest[1];
                rest = rest[2..];
            }
            var plural = rest[0];
            var kind = ResourceKind.WellKnown.FirstOrDefault(k => k.Group == group && k.Plural == plural)
                ?? new ResourceKind(group, version, plural, plural, ns is not null);
            if (!kind.Namespaced)
                ns = null;
            return new Route(kind, ns, rest.Length > 1 ? rest[1] : null, rest.Length > 2 ? rest[2] : null);
        }
    }
}

/// <summary>A request the fake server received. ToString leaves out the Authorization header.</summary>
public sealed record RecordedRequest(string Method, string Path, string Query, string? Authorization, string? Body)
{
    public override string ToString() => $"{Method} {Path}{Query}";
}
