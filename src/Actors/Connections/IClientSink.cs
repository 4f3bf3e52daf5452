using Akka.Sync.Protocol;

namespace Akka.Sync.Actors.Connections;

/// <summary>
/// The socket side of a connection actor: a bounded outbound queue plus the dialect's framing.
/// Implemented by the Gateway's socket sessions (V1, Socket.IO), which encode with their dialect's codec and queue on
/// the socket's transport; every call is non-blocking.
/// </summary>
public interface IClientSink
{
    /// <summary>The conversation's state snapshot, first thing after subscribing (V1 full_state).</summary>
    void WriteFullState(byte[] fullState);

    /// <summary>
    /// Queues one stored event. False when the bounded queue is full: live, the client is a slow consumer and the
    /// caller closes it (it resumes later from its last event); in replay the caller waits for
    /// <see cref="WhenRoomForReplay"/> and offers the event again. An empty queue accepts any event, however large.
    /// </summary>
    bool TryWriteEvent(EventEnvelope e, bool replay);

    /// <summary>
    /// The replay the client asked for is complete and live events follow (V0 sends its held-back state and its
    /// connect ack here). Called once per socket.
    /// </summary>
    void ReplayCompleted();

    /// <summary>An error frame for this client only (not stored).</summary>
    void WriteError(string code, string detail);

    /// <summary>
    /// Answers a client command that asked for an acknowledgement (Socket.IO acks): once what it asked for is durable
    /// (<paramref name="error"/> null), or with the reason it was not applied. Dialects without acks ignore it.
    /// </summary>
    void Acknowledge(long ackId, string? error);

    /// <summary>
    /// Whether the queue has room for more replay (replay is paced, live is not). After a refused
    /// <see cref="TryWriteEvent"/> it stays false until the queue can take that event (at the latest, when it is empty).
    /// </summary>
    bool HasRoomForReplay { get; }

    /// <summary>Completes when <see cref="HasRoomForReplay"/> becomes true again, or the socket closes.</summary>
    Task WhenRoomForReplay();

    /// <summary>Closes the socket with a close code and reason (after what was queued, where possible).</summary>
    void Close(int code, string reason);
}
