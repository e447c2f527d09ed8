using System.Net;
using System.Net.Http.Headers;

namespace MlPipelines.Hub;

/// <summary>Which redirects a request follows.</summary>
internal enum RedirectPolicy
{
    /// <summary>
    /// Only redirects within the same host (renamed repositories), as <c>huggingface_hub</c>'s metadata request:
    /// the redirect to the storage host is the answer, its headers carry the file's metadata.
    /// </summary>
    SameHost,
    /// <summary>Every redirect, up to a bound (downloads end on the storage host).</summary>
    All,
}

/// <summary>
/// HTTP to the Hub: authorization only towards the Hub's own host, redirects followed by hand (so that rule holds
/// across hosts), a time limit on silence rather than on whole bodies, and retries of transient failures.
/// </summary>
internal sealed class HubHttp : IDisposable
{
    private const int MaxRedirects = 10;
    private readonly HttpClient _client;
    private readonly HubOptions _options;

    public HubHttp(HubOptions options, HttpMessageHandler? handler)
    {
        _options = options;
        Endpoint = new Uri(options.Endpoint.TrimEnd('/') + "/");
        bool ownsHandler = handler is null;
        handler ??= new SocketsHttpHandler
        {
            AllowAutoRedirect = false,                          // followed below, to drop Authorization off-host
            AutomaticDecompression = DecompressionMethods.None, // bytes as stored, so hashes and sizes match
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5), // storage hosts rotate behind DNS
        };
        // Bodies of many gigabytes take as long as they take; ReadTimeout bounds silences instead.
        _client = new HttpClient(handler, ownsHandler) { Timeout = Timeout.InfiniteTimeSpan };
        _client.DefaultRequestHeaders.UserAgent.ParseAdd("mlpipe/1.0");
    }

    /// <summary>The Hub's base address, ending in '/'.</summary>
    public Uri Endpoint { get; }

    /// <summary>Whether requests to the Hub carry a token.</summary>
    public bool SendsToken => _options.Token is not null;

    /// <summary>Whether <paramref name="uri"/> is on the Hub's own host and port (the only place the token goes).</summary>
    public bool IsEndpoint(Uri? uri) =>
        uri is not null && string.Equals(uri.Host, Endpoint.Host, StringComparison.OrdinalIgnoreCase) && uri.Port == Endpoint.Port;

    /// <summary>
    /// Sends a request, retrying rate limiting, server errors and connection failures up to
    /// <see cref="HubOptions.MaxAttempts"/> times. Returns a success (2xx, or the unfollowed redirect of a
    /// <see cref="RedirectPolicy.SameHost"/> request, or a 416 to a range request); throws
    /// <see cref="HubException"/> for everything else.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(
        HttpMethod method, Uri uri, RedirectPolicy redirects, long rangeStart, RequestSubject subject,
        Action<string>? onRetry, CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            HttpResponseMessage response;
            try
            {
                response = await SendOnceAsync(method, uri, redirects, rangeStart, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (HubRetry.IsTransient(e) && !ct.IsCancellationRequested)
            {
                if (attempt >= _options.MaxAttempts)
                    throw new HubException(HubErrorKind.Network,
                        $"could not reach {uri.Host} for {subject.Describe()}: {e.Message} (after {attempt} attempts)", e);
                onRetry?.Invoke($"{e.Message}; attempt {attempt + 1} of {_options.MaxAttempts}");
                await Task.Delay(HubRetry.Delay(attempt + 1, null, _options), ct).ConfigureAwait(false);
                continue;
            }

            int status = (int)response.StatusCode;
            if (status is >= 200 and < 300
                || (status is >= 300 and < 400 && redirects == RedirectPolicy.SameHost)
                || (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && rangeStart > 0))
                return response;
            using (response)
            {
                if (!HubRetry.IsTransient(response.StatusCode))
                    throw HubErrors.FromResponse(response, subject, SendsToken, IsEndpoint(response.RequestMessage?.RequestUri));
                if (attempt >= _options.MaxAttempts)
                    throw HubErrors.Status(response, subject, attempt);
                onRetry?.Invoke($"HTTP {status} from {response.RequestMessage?.RequestUri?.Host}; attempt {attempt + 1} of {_options.MaxAttempts}");
                await Task.Delay(HubRetry.Delay(attempt + 1, HubRetry.RetryAfter(response), _options), ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>One attempt: the request and the redirects it follows; the final response with its headers read.</summary>
    private async Task<HttpResponseMessage> SendOnceAsync(HttpMethod method, Uri uri, RedirectPolicy redirects, long rangeStart, CancellationToken ct)
    {
        Uri current = uri;
        for (int hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(method, current);
            // Like requests (and so huggingface_hub): the token never follows a redirect to another host, where
            // a pre-signed storage address needs none and must not see it.
            if (_options.Token is { } token && IsEndpoint(current))
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (rangeStart > 0)
                request.Headers.Range = new RangeHeaderValue(rangeStart, null);
            request.Headers.AcceptEncoding.ParseAdd("identity");   // Content-Length must be the file's size

            HttpResponseMessage response = await SendWithinReadTimeoutAsync(request, ct).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            if (status is < 300 or >= 400 || response.Headers.Location is not { } location)
                return response;
            Uri next = location.IsAbsoluteUri ? location : new Uri(current, location);
            bool sameHost = string.Equals(next.Host, current.Host, StringComparison.OrdinalIgnoreCase) && next.Port == current.Port;
            if (redirects == RedirectPolicy.SameHost && !sameHost)
                return response;
            if (next.Scheme is not ("http" or "https"))
                return response;
            response.Dispose();
            if (hop >= MaxRedirects)
                throw new HubException(HubErrorKind.Protocol, $"more than {MaxRedirects} redirects from {uri}");
            current = next;
        }
    }

    private async Task<HttpResponseMessage> SendWithinReadTimeoutAsync(HttpRequestMessage request, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.ReadTimeout);
        try
        {
            return await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer from {request.RequestUri?.Host} within {_options.ReadTimeout.TotalSeconds:0.#} s", e);
        }
    }

    public void Dispose() => _client.Dispose();
}
