using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Hosting;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Gateway.Auth;
using Akka.Sync.Gateway.Endpoints;
using Akka.Sync.Gateway.Sessions;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Gateway.Transport;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V0;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace Akka.Sync.Gateway.Tests.Sessions;

/// <summary>
/// The Socket.IO session's own rules in isolation (the V0 replay rules, the connect ack, refusals, the Engine.IO upgrade
/// probe), over a WebSocket that records what is sent and plays what a client sends.
/// </summary>
public sealed class SocketIoSessionTests : IAsyncLifetime
{
    private ActorSystem _system = null!;

    public Task InitializeAsync()
    {
        _system = ActorSystem.Create("socketio-session-tests");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _system.Terminate();

    /// <summary>A session running over a scripted socket; <see cref="Sent"/> ends it and returns what it sent.</summary>
    private sealed class Harness
    {
        public readonly ScriptedWebSocket Socket = new();
        public readonly SocketIoSession Session;
        public readonly Task<(int Code, string Reason, long FramesSent, long MessagesRead)> Run;

        public Harness(ActorSystem system, SessionServices? services = null, string? query = null)
        {
            var settings = GatewaySettings.From(new ConfigurationBuilder().Build(), AppContext.BaseDirectory);
            services ??= new SessionServices(settings, new ApiKeys(settings, new ConversationRouting(new NoRegion(), system)), new FailedAuthLimiter(settings), system,
                ActorRefs.Nobody, new SocketBudget(settings), NullLogger.Instance);
            var http = new DefaultHttpContext();
            if (query is not null) http.Request.QueryString = new QueryString(query);
            Session = new SocketIoSession(Socket, services, http);
            Run = Session.RunAsync();
        }

        /// <summary>
        /// What was sent after the open packet, once <paramref name="count"/> messages were; then the client closes and
        /// the session ends (a client that closes first may miss what was still queued).
        /// </summary>
        public async Task<List<string>> Sent(int count)
        {
            await Socket.WaitForFrames(count + 1);
            Socket.ClientCloses();
            await Run.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.StartsWith("0{\"sid\":", Socket.Frames.First());
            return Socket.Frames.Skip(1).ToList();
        }
    }

    private static EventEnvelope Event(long seq, V0Incoming e) =>
        new(default, seq, seq.ToString(), e.Kind, e.Source, 0, V0Json.Compose(seq, "t", e));

    [Fact]
    public async Task Replay_skips_nulls_and_recalls_holds_the_last_state_then_acks_and_live_relabels()
    {
        var h = new Harness(_system);
        var sink = h.Session;
        var run = V0Json.UserMessage("hi");
        sink.TryWriteEvent(Event(1, V0Json.AgentStateChanged(AgentState.Loading)), replay: true);
        sink.TryWriteEvent(Event(2, run), replay: true);
        sink.TryWriteEvent(Event(3, V0Json.AgentStateChanged(AgentState.Running)), replay: true);
        sink.TryWriteEvent(Event(4, Parse("""{"action":"recall","source":"agent","args":{}}""")), replay: true);
        sink.TryWriteEvent(Event(5, Parse("""{"observation":"null","source":"agent"}""")), replay: true);
        sink.ReplayCompleted();
        sink.TryWriteEvent(Event(6, V0Json.AgentStateChanged(AgentState.Paused)), replay: false);
        // A later repair replay (after the entity moved) counts as live: no holding back, relabelled.
        sink.TryWriteEvent(Event(7, V0Json.AgentStateChanged(AgentState.Running)), replay: true);

        var frames = await h.Sent(5);
        Assert.StartsWith("42[\"oh_event\",{\"id\":2,", frames[0]);
        Assert.StartsWith("42[\"oh_event\",{\"id\":3,\"timestamp\":\"t\",\"source\":\"environment\"", frames[1]);
        Assert.Matches("^40\\{\"sid\":\"[^\"]+\"\\}$", frames[2]);
        Assert.StartsWith("42[\"oh_event\",{\"id\":6,\"timestamp\":\"t\",\"source\":\"agent\"", frames[3]);
        Assert.StartsWith("42[\"oh_event\",{\"id\":7,\"timestamp\":\"t\",\"source\":\"agent\"", frames[4]);
        Assert.Equal(5, frames.Count);
    }

    [Fact]
    public async Task A_refusal_before_the_ack_is_a_connect_error_and_after_it_a_server_disconnect()
    {
        var before = new Harness(_system);
        before.Session.Close(4004, "Conversation not found");
        Assert.Equal("44{\"message\":\"Conversation not found\"}", (await before.Sent(1))[0]);

        var after = new Harness(_system);
        after.Session.ReplayCompleted();
        after.Session.Close(4004, "deleted");
        var frames = await after.Sent(2);
        Assert.Matches("^40\\{\"sid\":\"[^\"]+\"\\}$", frames[0]);
        Assert.Equal("41", frames[1]);
        Assert.Equal(2, frames.Count);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, after.Socket.CloseStatusSent);
    }

    /// <summary>
    /// What is shared: an event's frames are built once per envelope instance (SocketIoCodec), and every V0 socket whose
    /// connection actor is handed that instance sends those very bytes. On the node hosting the conversation all its
    /// local subscribers get the same instance (next test); a socket on another node gets its own deserialised copy,
    /// framed once there.
    /// </summary>
    [Fact]
    public async Task Each_event_is_framed_once_per_envelope_and_every_socket_given_it_sends_the_same_bytes()
    {
        var e = Event(9, V0Json.AgentStateChanged(AgentState.Running));
        var sockets = new[] { new Harness(_system), new Harness(_system) };
        foreach (var h in sockets)
        {
            h.Session.ReplayCompleted();
            Assert.True(h.Session.TryWriteEvent(e, replay: false));
            await h.Sent(2);
        }
        var sent = sockets.Select(h => h.Socket.Sent.Single(f => f.Text.StartsWith("42[", StringComparison.Ordinal)).Bytes).ToArray();
        Assert.Same(sent[0], sent[1]);
        Assert.Same(Akka.Sync.Protocol.Codecs.SocketIoCodec.Instance.EncodeEvent(e, replay: false), sent[0]);
    }

    [Fact]
    public async Task Two_V0_sockets_on_the_node_hosting_the_conversation_send_the_very_same_bytes_for_one_event()
    {
        await using var server = await Support.SyncServer.StartAsync();
        var id = (await server.CreateConversationAsync(new { protocol = "v0" })).GetProperty("id").GetString()!;
        var services = new SessionServices(server.Services.GetRequiredService<GatewaySettings>(), server.Services.GetRequiredService<ApiKeys>(),
            server.Services.GetRequiredService<FailedAuthLimiter>(), server.Services.GetRequiredService<ActorSystem>(),
            server.Services.GetRequiredService<IRequiredActor<ConversationRegion>>().ActorRef, server.Services.GetRequiredService<SocketBudget>(),
            NullLogger.Instance);
        // Two sockets as the Socket.IO endpoint wires them: a session each, connected to the conversation over Socket.IO.
        var sockets = new[] { new Harness(_system, services, $"?conversation_id={id}"), new Harness(_system, services, $"?conversation_id={id}") };
        foreach (var h in sockets)
        {
            h.Socket.ClientSends("40");
            await h.Socket.WaitForAsync(f => f.Text.StartsWith("40{", StringComparison.Ordinal)); // subscribed, live
        }

        await server.IngestAsync(id, [new { action = "message", source = "agent", args = new { content = "once" } }]);

        var frames = new List<byte[]>();
        foreach (var h in sockets) frames.Add((await h.Socket.WaitForAsync(f => f.Text.Contains("\"once\""))).Bytes);
        Assert.Same(frames[0], frames[1]);
        foreach (var h in sockets)
        {
            h.Socket.ClientCloses();
            await h.Run.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task Error_frames_are_oh_events_with_error_true()
    {
        var h = new Harness(_system);
        h.Session.WriteError("bad_frame", "nope");
        Assert.Equal("42[\"oh_event\",{\"error\":true,\"message\":\"nope\"}]", (await h.Sent(1))[0]);
    }

    [Fact]
    public async Task The_engine_io_upgrade_probe_is_answered_3probe_and_a_plain_ping_3()
    {
        var h = new Harness(_system);
        h.Socket.ClientSends("2probe");
        h.Socket.ClientSends("2");
        var frames = await h.Sent(2);
        Assert.Equal(["3probe", "3"], frames);
    }

    [Fact]
    public async Task An_event_before_connecting_gets_an_error_and_its_ack_and_changes_nothing()
    {
        var h = new Harness(_system);
        h.Socket.ClientSends("""42"""+ "7" + """["oh_user_action",{"action":"message","args":{"content":"hi"}}]""");
        var frames = await h.Sent(2);
        Assert.Equal("42[\"oh_event\",{\"error\":true,\"message\":\"not connected: send a Socket.IO CONNECT (40) and wait for its answer first\"}]", frames[0]);
        Assert.Equal("437[{\"error\":true,\"message\":\"not connected: send a Socket.IO CONNECT (40) and wait for its answer first\"}]", frames[1]);
    }

    private static V0Incoming Parse(string json) =>
        V0Json.TryParse(System.Text.Json.JsonDocument.Parse(json).RootElement, null, out var e, out var error) ? e : throw new InvalidOperationException(error);

    private sealed class NoRegion : IRequiredActor<ConversationRegion>
    {
        public IActorRef ActorRef => ActorRefs.Nobody;
        public Task<IActorRef> GetAsync(CancellationToken cancel = default) => Task.FromResult<IActorRef>(ActorRefs.Nobody);
    }

    /// <summary>A WebSocket that records the text messages and the close it is given, and plays what a client sends.</summary>
    public sealed class ScriptedWebSocket : WebSocket
    {
        public sealed record SentFrame(string Text, byte[] Bytes);

        private readonly object _gate = new();
        private readonly List<SentFrame> _sent = [];
        private readonly List<(Func<SentFrame, bool> Match, TaskCompletionSource<SentFrame> Found)> _waiters = [];
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _frames = new();
        private readonly Channel<string?> _inbound = Channel.CreateUnbounded<string?>();
        private WebSocketState _state = WebSocketState.Open;

        public IReadOnlyCollection<string> Frames => _frames;
        public WebSocketCloseStatus? CloseStatusSent { get; private set; }
        public override WebSocketCloseStatus? CloseStatus => CloseStatusSent;
        public override string? CloseStatusDescription => null;
        public override WebSocketState State => _state;
        public override string? SubProtocol => null;

        public IReadOnlyList<SentFrame> Sent { get { lock (_gate) return [.. _sent]; } }

        /// <summary>The first message sent (already, or still to come) that matches.</summary>
        public Task<SentFrame> WaitForAsync(Func<SentFrame, bool> match)
        {
            var found = new TaskCompletionSource<SentFrame>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
            {
                if (_sent.FirstOrDefault(match) is { } frame) return Task.FromResult(frame);
                _waiters.Add((match, found));
            }
            return found.Task.WaitAsync(TimeSpan.FromSeconds(15));
        }

        public void ClientSends(string text) => _inbound.Writer.TryWrite(text);

        public void ClientCloses() => _inbound.Writer.TryWrite(null);

        /// <summary>Waits until <paramref name="count"/> messages in all were sent (awaiting each one, bounded).</summary>
        public async Task WaitForFrames(int count)
        {
            while (_awaited < count)
            {
                Assert.True(await _signal.WaitAsync(TimeSpan.FromSeconds(10)), $"{_frames.Count} frames sent, {count} expected");
                _awaited++;
            }
        }

        private readonly SemaphoreSlim _signal = new(0);
        private int _awaited;

        public override void Abort() => _state = WebSocketState.Aborted;

        public override Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) =>
            CloseOutputAsync(closeStatus, statusDescription, cancellationToken);

        public override Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
        {
            CloseStatusSent = closeStatus;
            _state = WebSocketState.Closed;
            return Task.CompletedTask;
        }

        public override void Dispose() { }

        public override async Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken)
        {
            var text = await _inbound.Reader.ReadAsync(cancellationToken);
            if (text is null) return new WebSocketReceiveResult(0, WebSocketMessageType.Close, true, WebSocketCloseStatus.NormalClosure, "");
            var n = Encoding.UTF8.GetBytes(text, buffer);
            return new WebSocketReceiveResult(n, WebSocketMessageType.Text, true);
        }

        public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
        {
            var frame = new SentFrame(Encoding.UTF8.GetString(buffer), buffer.Array!);
            _frames.Enqueue(frame.Text);
            List<TaskCompletionSource<SentFrame>> found;
            lock (_gate)
            {
                _sent.Add(frame);
                found = _waiters.Where(w => w.Match(frame)).Select(w => w.Found).ToList();
                _waiters.RemoveAll(w => found.Contains(w.Found));
            }
            foreach (var f in found) f.TrySetResult(frame);
            _signal.Release();
            return Task.CompletedTask;
        }
    }
}
