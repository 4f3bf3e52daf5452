using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Akka.Sync.Gateway.Tests.Support;

/// <summary>Keeps every formatted log line (with its exception) so tests can check what is and is not logged.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly object _gate = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Found)> _waiters = [];

    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this);

    /// <summary>The first line (already logged or still to come) that matches; throws after <paramref name="timeout"/>.</summary>
    public async Task<string> WaitForAsync(Func<string, bool> match, TimeSpan timeout)
    {
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_lines.FirstOrDefault(match) is { } line) return line;
            _waiters.Add((match, found));
        }
        try
        {
            return await found.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"no matching log line in {timeout}; logged:\n{string.Join('\n', _lines)}");
        }
    }

    private void Add(string line)
    {
        lock (_gate)
        {
            _lines.Enqueue(line);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (!_waiters[i].Match(line)) continue;
                _waiters[i].Found.TrySetResult(line);
                _waiters.RemoveAt(i);
            }
        }
    }

    public void Dispose() { }

    private sealed class Logger(string category, LogCapture capture) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            capture.Add($"{logLevel} {category}: {formatter(state, exception)} {exception}");
    }
}
