namespace Akka.Sync.Cluster.Tests.Support;

/// <summary>
/// TestKit's <c>AwaitAssert</c> for state that lives in other processes and can only be asked over HTTP (readiness,
/// membership): the check runs again every 100 ms until it holds or the deadline passes, then fails with what it saw.
/// </summary>
public static class Eventually
{
    public static async Task<T> HoldsAsync<T>(Func<Task<T>> observe, Func<T, bool> holds, TimeSpan timeout, Func<T?, string> describe)
    {
        var deadline = DateTime.UtcNow + timeout;
        T? last = default;
        while (true)
        {
            try
            {
                last = await observe();
                if (holds(last)) return last;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { } // the process is not answering yet
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not within {timeout}: {describe(last)}");
            await Task.Delay(100);
        }
    }
}
