using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;

namespace MlPipelines.Server.Tests;

/// <summary>A client that goes away mid-reply stops its generation and frees its place.</summary>
public class DisconnectTests
{
    // Guards against a hang, not timing assertions.
    private static readonly TimeSpan Hang = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task A_client_that_disconnects_mid_stream_cancels_its_generation_and_frees_the_slot()
    {
        var probe = new ProbeChatClient.Probe();
        await using ServedModel served = await ServedModel.StartAsync(new OpenAiServerOptions { MaxConcurrentRequests = 1, MaxQueuedRequests = 0 },
            wrap: chat => new ProbeChatClient(chat, probe));
        using HttpClient http = served.Http();
        const int maxTokens = 400;
        string body = $$"""{"stream": true, "max_tokens": {{maxTokens}}, "temperature": 0.8, "seed": 3, "messages": [{"role": "user", "content": "Once upon a time"}]}""";

        // Read the first event, then go away: disposing an unfinished response closes the connection.
        using (var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") })
        using (HttpResponseMessage response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(Hang))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var events = new StreamReader(await response.Content.ReadAsStreamAsync());
            string? line;
            while ((line = await events.ReadLineAsync().WaitAsync(Hang)) is not null && !line.StartsWith("data: {", StringComparison.Ordinal)) { }
            Assert.NotNull(line);
        }

        // The generation saw its token cancelled and ended early, by cancellation, not by finishing.
        (bool cancelled, int updates) = await probe.Ended.Task.WaitAsync(Hang);
        Assert.True(cancelled, "the generation ran to its end although the client had gone");
        Assert.True(updates < maxTokens, $"{updates} updates were generated for a client that left after the first");

        // With one slot and no queue, only a freed slot lets the next request in (its release follows the stream's end).
        HttpStatusCode status;
        var deadline = DateTime.UtcNow + Hang;
        do
        {
            using var next = await http.PostAsync("v1/chat/completions",
                new StringContent("""{"max_tokens": 4, "messages": [{"role": "user", "content": "Once"}]}""", Encoding.UTF8, "application/json"));
            status = next.StatusCode;
            if (status == HttpStatusCode.OK) break;
            Assert.Equal(HttpStatusCode.TooManyRequests, status);
            await Task.Delay(50);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Equal(HttpStatusCode.OK, status);
    }

    /// <summary>
    /// Passes the served client's stream through, one update every few milliseconds (so a 400-token reply outlasts the
    /// client's disconnect by far), and reports how the first stream ended: by cancellation or not, after how many updates.
    /// </summary>
    private sealed class ProbeChatClient(IChatClient inner, ProbeChatClient.Probe probe) : DelegatingChatClient(inner)
    {
        public sealed class Probe
        {
            public TaskCompletionSource<(bool Cancelled, int Updates)> Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
            [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            int updates = 0;
            bool cancelled = false;
            try
            {
                await foreach (ChatResponseUpdate update in base.GetStreamingResponseAsync(messages, options, cancellationToken))
                {
                    updates++;
                    yield return update;
                    await Task.Delay(10, cancellationToken);
                }
            }
            finally
            {
                cancelled = cancellationToken.IsCancellationRequested;
                probe.Ended.TrySetResult((cancelled, updates));
            }
        }
    }
}
