using System.Net.WebSockets;
using System.Text;
using Akka.Actor;
using Akka.Hosting;
using Akka.Streams;
using Akka.Sync.Actors.Connections;
using Akka.Sync.Actors.Conversations;
using Akka.Sync.Gateway.Tests.Support;
using Akka.Sync.Gateway.Settings;
using Akka.Sync.Gateway.Transport;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V0;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Akka.Sync.Gateway.Tests;

/// <summary>The V0 framing rules in isolation, over a WebSocket that records what is sent.</summary>
public sealed class V0SinkTests : IAsyncLifetime
{
    private ActorSystem _system = null!;
    private readonly RecordingWebSocket _socket = new();
    private WebSocketTransport _transport = null!;
    private V0Sink _sink = null!;

    public Task InitializeAsync()
    {
        _system = ActorSystem.Create("v0-sink-tests");
        _transport = new WebSocketTransport(_socket, new LimitSettings());
        _transport.Start();
        _sink = new V0Sink(_transport, "sid1");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _transport.Shutdown();
        await _transport.Completion;
        await _system.Terminate();
    }

    private static EventEnvelope Event(long seq, V0Incoming e) =>
        new(default, seq, seq.ToString(), e.Kind, e.Source, 0, V0Json.Compose(seq, "t", e));

    /// <summary>Everything sent: closing queues the close behind what is queued, and the pump ends after it.</summary>
    private async Task<List<string>> Sent()
    {
        _transport.Close(1000, "");
        await _transport.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        return _socket.Frames.ToList();
    }

    [Fact]
    public async Task Replay_skips_nulls_and_recalls_holds_the_last_state_then_acks_and_live_relabels()
    {
        var run = V0Json.UserMessage("hi");
        _sink.TryWriteEvent(Event(1, V0Json.AgentStateChanged(AgentState.Loading)), replay: true);
        _sink.TryWriteEvent(Event(2, run), replay: true);
        _sink.TryWriteEvent(Event(3, V0Json.AgentStateChanged(AgentState.Running)), replay: true);
        _sink.TryWriteEvent(Event(4, Parse("""{"action":"recall","source":"agent","args":{}}""")), replay: true);
        _sink.TryWriteEvent(Event(5, Parse("""{"observation":"null","source":"agent"}""")), replay: true);
        _sink.ReplayCompleted();
        _sink.TryWriteEvent(Event(6, V0Json.AgentStateChanged(AgentState.Paused)), replay: false);
        // A later repair replay (after the entity moved) counts as live: no holding back, relabelled.
        _sink.TryWriteEvent(Event(7, V0Json.AgentStateChanged(AgentState.Running)), replay: true);

        var frames = await Sent();
        Assert.StartsWith("42[\"oh_event\",{\"id\":2,", frames[0]);
        Assert.StartsWith("42[\"oh_event\",{\"id\":3,\"timestamp\":\"t\",\"source\":\"environment\"", frames[1]);
        Assert.Equal("40{\"sid\":\"sid1\"}", frames[2]);
        Assert.StartsWith("42[\"oh_event\",{\"id\":6,\"timestamp\":\"t\",\"source\":\"agent\"", frames[3]);
        Assert.StartsWith("42[\"oh_event\",{\"id\":7,\"timestamp\":\"t\",\"source\":\"agent\"", frames[4]);
        Assert.Equal(5, frames.Count);
    }

    [Fact]
    public async Task A_refusal_before_the_ack_is_a_connect_error_and_after_it_a_server_disconnect()
    {
        _sink.Close(4004, "Conversation not found");
        var frames = await Sent();
        Assert.Equal("44{\"message\":\"Conversation not found\"}", frames[0]);

        var other = new RecordingWebSocket();
        var transport = new WebSocketTransport(other, new LimitSettings());
        transport.Start();
        var sink = new V0Sink(transport, "s");
        sink.ReplayCompleted();
        sink.Close(4004, "deleted");
        await transport.Completion;
        Assert.Equal(["40{\"sid\":\"s\"}", "41"], other.Frames);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, other.CloseStatusSent);
    }

    /// <summary>
    /// What is shared: an event's frames are built once per envelope instance, and every V0 socket whose connection actor
    /// is handed that instance sends those very bytes. On the node hosting the conversation all its local subscribers get
    /// the same instance (see the next test); a socket on another node gets its own deserialised copy, framed once there.
    /// </summary>
    [Fact]
    public async Task Each_event_is_framed_once_per_envelope_and_every_socket_given_it_sends_the_same_bytes()
    {
        var e = Event(9, V0Json.AgentStateChanged(AgentState.Running));
        var plain = Event(10, V0Json.UserMessage("hi"));
        Assert.Same(V0Sink.FramesOf(e), V0Sink.FramesOf(e));
        Assert.NotSame(V0Sink.FramesOf(e).Replay, V0Sink.FramesOf(e).Live); // relabelled live
        Assert.Same(V0Sink.FramesOf(plain).Replay, V0Sink.FramesOf(plain).Live);

        // Two sockets, one envelope: both send the same byte[] instance, not two copies.
        var other = new RecordingWebSocket();
        var otherTransport = new WebSocketTransport(other, new LimitSettings());
        otherTransport.Start();
        var otherSink = new V0Sink(otherTransport, "sid2");
        foreach (var (sink, transport) in new[] { (_sink, _transport), (otherSink, otherTransport) })
        {
            sink.ReplayCompleted();
            Assert.True(sink.TryWriteEvent(e, replay: false));
            transport.Close(1000, "");
            await transport.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        }
        var sent = _socket.Sent.Single(f => f.Text.StartsWith("42[", StringComparison.Ordinal)).Bytes;
        Assert.Same(sent, other.Sent.Single(f => f.Text.StartsWith("42[", StringComparison.Ordinal)).Bytes);
        Assert.Same(V0Sink.FramesOf(e).Live, sent);
    }

    [Fact]
    public async Task Two_V0_sockets_on_the_node_hosting_the_conversation_send_the_very_same_bytes_for_one_event()
    {
        await using var server = await SyncServer.StartAsync();
        var id = (await server.CreateConversationAsync(new { protocol = "v0" })).GetProperty("id").GetString()!;
        var system = server.Services.GetRequiredService<ActorSystem>();
        var region = server.Services.GetRequiredService<IRequiredActor<ConversationRegion>>().ActorRef;
        var settings = server.Services.GetRequiredService<GatewaySettings>();
        // Two sockets as the Socket.IO endpoint wires them: a transport, a V0 sink and a connection actor each.
        var sockets = new[] { new RecordingWebSocket(), new RecordingWebSocket() };
        var connections = new List<IActorRef>();
        var transports = new List<WebSocketTransport>();
        foreach (var socket in sockets)
        {
            var transport = new WebSocketTransport(socket, settings.Limits, "v0");
            transport.Start();
            transports.Add(transport);
            connections.Add(system.ActorOf(ConnectionActor.Props(region, ConversationId.Parse(id), Dialect.V0, ReplayFrom.LiveOnly,
                new V0Sink(transport, EngineIo.NewSid()), settings.Akka.Connection)));
        }
        try
        {
            foreach (var socket in sockets) await socket.WaitForAsync(f => f.Text.StartsWith("40{", StringComparison.Ordinal)); // subscribed, live

            await server.IngestAsync(id, [new { action = "message", source = "agent", args = new { content = "once" } }]);

            var frames = new List<byte[]>();
            foreach (var socket in sockets) frames.Add((await socket.WaitForAsync(f => f.Text.Contains("\"once\""))).Bytes);
            Assert.Same(frames[0], frames[1]);
        }
        finally
        {
            foreach (var connection in connections) system.Stop(connection);
            foreach (var transport in transports) transport.Shutdown();
            await Task.WhenAll(transports.Select(t => t.Completion));
        }
    }

    [Fact]
    public async Task Error_frames_are_oh_events_with_error_true()
    {
        _sink.WriteError("bad_frame", "nope");
        Assert.Equal("42[\"oh_event\",{\"error\":true,\"message\":\"nope\"}]", (await Sent())[0]);
    }

    private static V0Incoming Parse(string json) =>
        V0Json.TryParse(System.Text.Json.JsonDocument.Parse(json).RootElement, null, out var e, out var error) ? e : throw new InvalidOperationException(error);

    /// <summary>A WebSocket that records the text messages (and the very arrays they were sent from) and the close it is given.</summary>
    private sealed class RecordingWebSocket : WebSocket
    {
        public sealed record SentFrame(string Text, byte[] Bytes);

        private readonly object _gate = new();
        private readonly List<SentFrame> _sent = [];
        private readonly List<(Func<SentFrame, bool> Match, TaskCompletionSource<SentFrame> Found)> _waiters = [];
        private WebSocketState _state = WebSocketState.Open;

        public IReadOnlyCollection<string> Frames { get { lock (_gate) return _sent.Select(f => f.Text).ToList(); } }
        public IReadOnlyList<SentFrame> Sent { get { lock (_gate) return [.. _sent]; } }

        /// <summary>The first frame sent (already, or still to come) that matches.</summary>
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
        public WebSocketCloseStatus? CloseStatusSent { get; private set; }
        public override WebSocketCloseStatus? CloseStatus => CloseStatusSent;
        public override string? CloseStatusDescription => null;
        public override WebSocketState State => _state;
        public override string? SubProtocol => null;

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

        public override Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
        {
            var frame = new SentFrame(Encoding.UTF8.GetString(buffer), buffer.Array!);
            lock (_gate)
            {
                _sent.Add(frame);
                for (var i = _waiters.Count - 1; i >= 0; i--)
                {
                    if (!_waiters[i].Match(frame)) continue;
                    _waiters[i].Found.TrySetResult(frame);
                    _waiters.RemoveAt(i);
                }
            }
            return Task.CompletedTask;
        }
    }
}
