using Akka.Sync.Actors.Connections;
using Akka.Sync.Protocol;
using Akka.Sync.Protocol.V1;

namespace Akka.Sync.Gateway.Transport;

/// <summary>V1 framing: each stored event's JSON is the frame, as it is.</summary>
public sealed class V1Sink(WebSocketTransport transport) : IClientSink
{
    public void WriteFullState(byte[] fullState) => transport.Enqueue(fullState);

    public bool TryWriteEvent(EventEnvelope e, bool replay) => transport.TryEnqueueBounded(e.Json);

    public void ReplayCompleted() { }

    public void WriteError(string code, string detail) => transport.Enqueue(V1Json.ErrorFrame(code, detail, DateTime.UtcNow));

    public bool HasRoomForReplay => transport.HasRoomForReplay;

    public Task WhenRoomForReplay() => transport.WhenRoomForReplay();

    public void Close(int code, string reason) => transport.Close(code, reason);
}
