using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace Akka.Sync.Actors.Connections;

/// <summary>
/// The connection actor's mailbox: unbounded like Akka's default, but a <see cref="Queue{T}"/> under a lock that starts
/// empty and gives back what a burst grew once drained, instead of a <c>ConcurrentQueue</c> whose first 32-slot segment
/// (~1 KB) every idle socket held (bench/NOTES.md, "100k sockets"). A connection actor's queue has one consumer (its
/// dispatcher run) and few producers (its entity, its socket, its timers), so the lock is uncontended in practice.
/// Configured at <see cref="ConfigPath"/> by <see cref="Hosting.AkkaSyncHosting"/>; the gateway's sockets use it.
/// </summary>
public sealed class ConnectionMailbox : MailboxType, IProducesMessageQueue<ConnectionMailbox.MessageQueue>
{
    public const string ConfigPath = "akka-sync.connection-mailbox";
    public static readonly string Hocon = $"{ConfigPath} {{ mailbox-type = \"{typeof(ConnectionMailbox).FullName}, {typeof(ConnectionMailbox).Assembly.GetName().Name}\" }}";

    public ConnectionMailbox(Settings settings, Config config) : base(settings, config) { }

    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new MessageQueue();

    public sealed class MessageQueue : IMessageQueue, IUnboundedMessageQueueSemantics
    {
        /// <summary>Past this many slots, a drained queue gives its array back.</summary>
        private const int KeepCapacity = 16;
        private readonly Queue<Envelope> _queue = new();
        private int _peak;

        public bool HasMessages { get { lock (_queue) return _queue.Count > 0; } }

        public int Count { get { lock (_queue) return _queue.Count; } }

        public void Enqueue(IActorRef receiver, Envelope envelope)
        {
            lock (_queue)
            {
                _queue.Enqueue(envelope);
                if (_queue.Count > _peak) _peak = _queue.Count;
            }
        }

        public bool TryDequeue(out Envelope envelope)
        {
            lock (_queue)
            {
                if (!_queue.TryDequeue(out envelope)) return false;
                if (_queue.Count == 0 && _peak > KeepCapacity)
                {
                    _queue.TrimExcess();
                    _peak = 0;
                }
                return true;
            }
        }

        public void CleanUp(IActorRef owner, IMessageQueue deadletters)
        {
            while (TryDequeue(out var message)) deadletters.Enqueue(owner, message);
        }
    }
}
