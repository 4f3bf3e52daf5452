using Akka.Sync.Protocol.V1;

namespace Akka.Sync.Protocol.Codecs;

/// <summary>
/// V1 (CONTRACT §3): one JSON text message per event, the stored JSON as it is; the full_state event first; user
/// messages and the auth frame in.
/// </summary>
public sealed class V1JsonCodec : IFrameCodec
{
    public static readonly V1JsonCodec Instance = new();

    public Dialect Dialect => Dialect.V1;

    public byte[] EncodeEvent(EventEnvelope e, bool replay) => e.Json;

    public byte[]? EncodeState(byte[] fullState) => fullState;

    public byte[] EncodeError(string code, string detail, DateTime nowUtc) => V1Json.ErrorFrame(code, detail, nowUtc);

    public ClientFrame Decode(ReadOnlySpan<byte> message) => V1Inbound.ParseClientFrame(message);
}
