using Microsoft.Extensions.AI;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.OnnxEngine;
using MlPipelines.OnnxEngine.Tests.Onnx;

namespace MlPipelines.AI.Tests;

/// <summary>
/// The chat client on stories260K (no chat template: the conversation is plain text after BOS), held to the library's
/// <see cref="ManagedEngine.Generation.Generator"/> on the same prompt tokens and sampling settings.
/// </summary>
public class ChatClientTests(ExportedStoriesFixture exported) : IClassFixture<ExportedStoriesFixture>
{
    private const string Prompt = "Once upon a time";

    private static ChatOptions Seeded(long seed, int maxTokens = 80) => new() { Temperature = 1.0f, TopP = 0.9f, Seed = seed, MaxOutputTokens = maxTokens };

    private static SamplingOptions Sampling(ulong seed) => new() { Temperature = 1.0f, TopP = 0.9f, Seed = seed };

    [Fact]
    public async Task A_seeded_stream_equals_the_generator_on_the_same_prompt_one_update_per_piece()
    {
        using LoadedModel stories = Reference.Stories();
        using var client = new LlamaChatClient(stories);
        (string expected, int tokens) = Reference.Generate(stories.Model, stories.Tokenizer, Reference.Plain(stories.Tokenizer, Prompt), Sampling(42), 80);

        List<ChatResponseUpdate> updates = await Reference.Stream(client, Prompt, Seeded(42));

        Assert.Equal(expected, Reference.Text(updates));
        int textUpdates = updates.Count(u => u.Text.Length > 0);
        Assert.InRange(textUpdates, tokens / 2, tokens);   // one per decoded piece (tok512 pieces are whole characters or more)
        Assert.All(updates, u => Assert.Equal(ChatRole.Assistant, u.Role));
        Assert.Single(updates.Select(u => u.ResponseId).Distinct());
    }

    [Fact]
    public async Task On_the_onnx_engine_a_seeded_stream_equals_the_generator_there()
    {
        using var client = new LlamaChatClient(exported.Onnx, Reference.Stories().Tokenizer, format: null);
        (string expected, _) = Reference.Generate(exported.Onnx, client.Tokenizer, Reference.Plain(client.Tokenizer, Prompt), Sampling(7), 60);
        Assert.Equal(expected, Reference.Text(await Reference.Stream(client, Prompt, Seeded(7, 60))));
    }

    [Fact]
    public async Task Greedy_equals_the_generators_greedy_and_GetResponse_equals_the_stream()
    {
        using LoadedModel stories = Reference.Stories();
        using var client = new LlamaChatClient(stories);
        (string expected, int tokens) = Reference.Generate(stories.Model, stories.Tokenizer, Reference.Plain(stories.Tokenizer, Prompt), SamplingOptions.Greedy, 50);

        ChatResponse response = await client.GetResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 50 });

        Assert.Equal(expected, response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(50, tokens);
        Assert.Equal(50, response.Usage?.OutputTokenCount);
        Assert.Equal(Reference.Plain(stories.Tokenizer, Prompt).Length, response.Usage?.InputTokenCount);
        Assert.Equal(client.Metadata.DefaultModelId, response.ModelId);
    }

    [Fact]
    public async Task MaxOutputTokens_ends_with_Length_and_counts_the_tokens()
    {
        using LoadedModel stories = Reference.Stories();
        using var client = new LlamaChatClient(stories);
        (string expected, _) = Reference.Generate(stories.Model, stories.Tokenizer, Reference.Plain(stories.Tokenizer, Prompt), Sampling(5), 7);

        ChatResponse response = await client.GetResponseAsync(Prompt, Seeded(5, maxTokens: 7));

        Assert.Equal(expected, response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(7, response.Usage?.OutputTokenCount);
        Assert.Equal(response.Usage?.InputTokenCount + 7, response.Usage?.TotalTokenCount);
    }

    [Fact]
    public async Task An_end_id_ends_with_Stop_as_the_generator_does()
    {
        using LoadedModel stories = Reference.Stories();
        using var client = new LlamaChatClient(stories, new LlamaChatClientOptions { MaxOutputTokens = 0 });
        // stories260K ends a story with BOS well inside its context of 512; greedy from this prompt does so.
        (string expected, int tokens) = Reference.Generate(stories.Model, stories.Tokenizer, Reference.Plain(stories.Tokenizer, Prompt), SamplingOptions.Greedy, 0);
        Assert.True(Reference.Plain(stories.Tokenizer, Prompt).Length + tokens < stories.Model.Config.MaxSequenceLength, "the reference must stop before the context is full");

        ChatResponse response = await client.GetResponseAsync(Prompt);

        Assert.Equal(expected, response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(tokens, response.Usage?.OutputTokenCount);
    }

    [Fact]
    public async Task A_stop_sequence_ends_with_Stop_and_the_text_cut_before_it()
    {
        using LoadedModel stories = Reference.Stories();
        using var client = new LlamaChatClient(stories);
        (string full, _) = Reference.Generate(stories.Model, stories.Tokenizer, Reference.Plain(stories.Tokenizer, Prompt), SamplingOptions.Greedy, 80);
        string stop = full.Substring(full.Length / 2, 4);   // some text the reply will reach, possibly spanning tokens
        string expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];

        List<ChatResponseUpdate> updates = await Reference.Stream(client, Prompt, new ChatOptions { MaxOutputTokens = 80, StopSequences = ["zzqq", stop] });

        Assert.Equal(expected, Reference.Text(updates));
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
        Assert.DoesNotContain(updates, u => u.Text.Contains(stop, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Cancellation_mid_generation_throws_and_the_session_serves_the_next_request()
    {
        using LoadedModel stories = Reference.Stories();
        using var client = new LlamaChatClient(stories);
        using var cts = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, Prompt)], Seeded(3, 200), cts.Token))
                if (++seen == 3) cts.Cancel();
        });
        Assert.Equal(3, seen);

        // The one session went back to the pool, its cache still consistent: the next reply equals the reference.
        (string expected, _) = Reference.Generate(stories.Model, stories.Tokenizer, Reference.Plain(stories.Tokenizer, Prompt), Sampling(3), 40);
        Assert.Equal(expected, (await client.GetResponseAsync(Prompt, Seeded(3, 40))).Text);
    }

    [Fact]
    public async Task Concurrent_calls_each_equal_the_same_call_alone()
    {
        using LoadedModel stories = Reference.Stories();
        using var client = new LlamaChatClient(stories, new LlamaChatClientOptions { MaxConcurrentSessions = 3 });
        string[] prompts = ["Once upon a time", "The cat", "Lily and Ben", "One day", "Once upon a time", "The sun", "Tom had a ball", "The cat"];

        Task<ChatResponse>[] calls = prompts.Select((p, i) => client.GetResponseAsync(p, Seeded(100 + i, 60))).ToArray();
        ChatResponse[] responses = await Task.WhenAll(calls);

        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(Reference.Generate(stories.Model, stories.Tokenizer, Reference.Plain(stories.Tokenizer, prompts[i]), Sampling((ulong)(100 + i)), 60).Text,
                responses[i].Text);
    }

    [Fact]
    public async Task Instructions_and_several_messages_are_written_one_per_line()
    {
        using LoadedModel stories = Reference.Stories();
        using var client = new LlamaChatClient(stories);
        (string expected, _) = Reference.Generate(stories.Model, stories.Tokenizer, Reference.Plain(stories.Tokenizer, "Lily was happy.\nOnce upon a time\nThere was"),
            SamplingOptions.Greedy, 30);

        ChatResponse response = await client.GetResponseAsync(
            [new ChatMessage(ChatRole.User, "Once upon a time"), new ChatMessage(ChatRole.Assistant, "There was")],
            new ChatOptions { Instructions = "Lily was happy.", MaxOutputTokens = 30 });

        Assert.Equal(expected, response.Text);
    }

    [Fact]
    public void Bad_settings_and_requests_are_refused_naming_what_was_wrong()
    {
        using LoadedModel stories = Reference.Stories();
        using var client = new LlamaChatClient(stories);
        var t = Assert.Throws<ArgumentOutOfRangeException>(() => client.GetStreamingResponseAsync("x", new ChatOptions { Temperature = -1 }));
        Assert.Contains("Temperature", t.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => client.GetStreamingResponseAsync("x", new ChatOptions { MaxOutputTokens = 0 }));
        var tooLong = Assert.Throws<ContextLengthExceededException>(() => client.GetStreamingResponseAsync(string.Concat(Enumerable.Repeat("Once upon a time. ", 200))));
        Assert.Contains("context of 512", tooLong.Message);
        Assert.Equal(512, tooLong.ContextLength);
        Assert.True(tooLong.PromptTokens >= 512);
        var noTemplate = Assert.Throws<InvalidDataException>(() => new LlamaChatClient(stories, new LlamaChatClientOptions { RequireChatTemplate = true }));
        Assert.Contains("no chat template", noTemplate.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LlamaChatClient(stories, new LlamaChatClientOptions { MaxConcurrentSessions = 0 }));
    }

    [Fact]
    public void GetService_returns_the_metadata_the_model_and_the_client()
    {
        using LoadedModel stories = Reference.Stories();
        using var client = new LlamaChatClient(stories, new LlamaChatClientOptions { ModelId = "stories" });
        ChatClientMetadata metadata = Assert.IsType<ChatClientMetadata>(client.GetService(typeof(ChatClientMetadata)));
        Assert.Equal("mlpipelines", metadata.ProviderName);
        Assert.Equal("stories", metadata.DefaultModelId);
        Assert.Same(stories.Model, client.GetService<ManagedEngine.Model.ILanguageModel>());
        Assert.Same(client, client.GetService<LlamaChatClient>());
        Assert.Null(client.GetService(typeof(ChatClientMetadata), serviceKey: "other"));
        Assert.Null(client.GetService<string>());
    }
}
