using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;
using MlPipelines.AI.Tests;

namespace MlPipelines.Server.Tests;

/// <summary>Many requests at once, and the bounded queue.</summary>
public class ConcurrencyTests
{
    // A guard against a hang, not a timing assertion: every wait below ends long before it when the server works.
    private static readonly TimeSpan Hang = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Thirty_two_concurrent_streams_with_distinct_seeds_each_equal_the_same_request_run_alone()
    {
        await using ServedModel served = await ServedModel.StartAsync(new OpenAiServerOptions { MaxQueuedRequests = 32 }, parallel: 4);
        using IChatClient openAi = served.OpenAiChat();
        static ChatOptions Options(int seed) => new() { Temperature = 0.9f, TopP = 0.95f, Seed = 1000 + seed, MaxOutputTokens = 48 };

        string[] concurrent = await Task.WhenAll(Enumerable.Range(0, 32).Select(async i =>
            Reference.Text(await Reference.Stream(openAi, $"Once upon a time {i}", Options(i)))));

        for (int i = 0; i < 32; i++)
        {
            string alone = Reference.Text(await Reference.Stream(served.ReferenceChat, $"Once upon a time {i}", Options(i)));
            Assert.Equal(alone, concurrent[i]);
        }
        Assert.True(concurrent.Distinct().Count() > 1, "distinct seeds give distinct stories");
    }

    [Fact]
    public async Task With_every_slot_and_queue_place_taken_a_request_gets_429_and_the_running_one_completes()
    {
        var gate = new GatedChatClient.Gate();
        await using ServedModel served = await ServedModel.StartAsync(new OpenAiServerOptions { MaxConcurrentRequests = 1, MaxQueuedRequests = 0 },
            wrap: chat => new GatedChatClient(chat, gate));
        using HttpClient http = served.Http();
        const string body = """{"stream": true, "max_tokens": 10, "messages": [{"role": "user", "content": "Once upon a time"}]}""";

        // The first request is admitted and held inside the chat client until the gate opens.
        Task<HttpResponseMessage> first = http.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        await gate.Entered.Task.WaitAsync(Hang);
        using (HttpResponseMessage second = await http.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json")))
            await ErrorTests.AssertError(second, 429, null, "rate_limit_exceeded");

        gate.Open.SetResult();
        using HttpResponseMessage response = await first.WaitAsync(Hang);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string events = await response.Content.ReadAsStringAsync();
        Assert.EndsWith("data: [DONE]\n\n", events);

        // The place is free again.
        using HttpResponseMessage third = await http.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, third.StatusCode);
    }

    /// <summary>A chat client that, on its first call, reports entry and holds the stream until the test opens the gate.</summary>
    private sealed class GatedChatClient(IChatClient inner, GatedChatClient.Gate gate) : DelegatingChatClient(inner)
    {
        public sealed class Gate
        {
            public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
            public TaskCompletionSource Open { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        private int _calls;

        public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
            CancellationToken cancellationToken = default) =>
            Interlocked.Increment(ref _calls) == 1 ? Held(messages, options, cancellationToken) : base.GetStreamingResponseAsync(messages, options, cancellationToken);

        private async IAsyncEnumerable<ChatResponseUpdate> Held(IEnumerable<ChatMessage> messages, ChatOptions? options, [EnumeratorCancellation] CancellationToken ct)
        {
            gate.Entered.TrySetResult();
            await gate.Open.Task.WaitAsync(ct);
            await foreach (ChatResponseUpdate update in base.GetStreamingResponseAsync(messages, options, ct))
                yield return update;
        }
    }
}
