using System.Net;

namespace MlPipelines.Hub;

/// <summary>When to retry a request and how long to wait first.</summary>
internal static class HubRetry
{
    /// <summary>429 (rate limited) and every 5xx are worth another try; the Hub's own answers to anything else are final.</summary>
    public static bool IsTransient(HttpStatusCode status) => (int)status == 429 || (int)status >= 500;

    /// <summary>
    /// Failures of the connection rather than answers from the Hub: refused or reset connections, bodies cut off,
    /// silences longer than the read timeout.
    /// </summary>
    public static bool IsTransient(Exception e) =>
        e is HttpRequestException or TimeoutException || (e is IOException && e is not HubException);

    /// <summary>
    /// The wait before attempt <paramref name="nextAttempt"/> (2, 3, …): the Hub's <c>Retry-After</c> when it sent
    /// one (it knows when its limit resets), else <see cref="HubOptions.RetryBaseDelay"/> doubled per attempt; both
    /// capped at <see cref="HubOptions.MaxRetryDelay"/>.
    /// </summary>
    public static TimeSpan Delay(int nextAttempt, TimeSpan? retryAfter, HubOptions options)
    {
        TimeSpan delay = retryAfter is { } after
            ? (after < TimeSpan.Zero ? TimeSpan.Zero : after)
            : options.RetryBaseDelay * Math.Pow(2, Math.Min(Math.Max(nextAttempt - 2, 0), 30));
        return delay > options.MaxRetryDelay ? options.MaxRetryDelay : delay;
    }

    /// <summary><c>Retry-After</c> as seconds or as a date.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response) =>
        response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => null,
        };
}
