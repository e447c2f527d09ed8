using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using MlPipelines.ManagedEngine.Chat;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.OnnxEngine;
using MlPipelines.Tests.Support;

namespace MlPipelines.AI.Tests;

/// <summary>A model with a chat template (stories260K's Hugging Face files with a test template), and prefix reuse across turns.</summary>
public class TemplateAndReuseTests
{
    // "<s>" is BOS as a control token; each turn is written "role: text" on its own line, and the reply opened with "assistant:".
    private const string Template = "{{ bos_token }}{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

    private static LoadedModel ChatModel(TempDir dir) => LanguageModels.Open(ResolvedModel.Resolve(ChatModelFiles.Write(dir,
        new JsonObject { ["bos_token"] = "<s>", ["eos_token"] = "</s>", ["chat_template"] = Template })), EngineKind.Managed);

    [Fact]
    public async Task The_plain_text_option_bypasses_the_template_and_continues_the_text_as_generate_does()
    {
        using var dir = new TempDir();
        using LoadedModel model = ChatModel(dir);
        using var client = new LlamaChatClient(model);
        Assert.NotNull(client.Format);
        PieceTokenizer tokenizer = TokenizerLoader.Load(TestPaths.Tok512Model);
        (string expected, _) = Reference.Generate(model.Model, tokenizer, Reference.Plain(tokenizer, "Once upon a time"), SamplingOptions.Greedy, 30);

        var options = new ChatOptions { MaxOutputTokens = 30, AdditionalProperties = new() { [LlamaChatClient.PlainTextPromptKey] = true } };
        ChatResponse response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Once upon a time")], options);

        Assert.Equal(expected, response.Text);
    }

    [Fact]
    public async Task With_a_chat_template_a_seeded_stream_equals_the_generator_on_the_rendered_prompt()
    {
        using var dir = new TempDir();
        using LoadedModel model = ChatModel(dir);
        using var client = new LlamaChatClient(model);
        Assert.NotNull(client.Format);
        // The rendered text written by hand, encoded as mlpipe generate encodes a prompt (BOS, then the text).
        PieceTokenizer tokenizer = TokenizerLoader.Load(TestPaths.Tok512Model);
        int[] prompt = tokenizer.Encode("system: Lily\nuser: Once upon a time\nassistant:", addBos: true, addEos: false);
        var sampling = new SamplingOptions { Temperature = 0.8f, TopK = 40, TopP = 0.95f, Seed = 11 };
        (string expected, int tokens) = Reference.Generate(model.Model, tokenizer, prompt, sampling, 60);

        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate u in client.GetStreamingResponseAsync(
                           [new ChatMessage(ChatRole.System, "Lily"), new ChatMessage(ChatRole.User, "Once upon a time")],
                           new ChatOptions { Temperature = 0.8f, TopK = 40, TopP = 0.95f, Seed = 11, MaxOutputTokens = 60 }))
            updates.Add(u);

        Assert.Equal(expected, Reference.Text(updates));
        UsageContent usage = Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>());
        Assert.Equal(prompt.Length, usage.Details.InputTokenCount);
        Assert.Equal(tokens, usage.Details.OutputTokenCount);
    }

    [Fact]
    public async Task The_next_turn_reuses_the_cache_of_the_previous_one_and_replies_as_a_fresh_client_does()
    {
        using var dir = new TempDir();
        using LoadedModel model = ChatModel(dir);
        using var counting = new CountingModel(model.Model);
        using var client = new LlamaChatClient(counting, model.Tokenizer, ChatFormat.Find(model.Source));
        var options = new ChatOptions { MaxOutputTokens = 20 };
        List<ChatMessage> conversation = [new(ChatRole.User, "Once upon a time")];

        ChatResponse first = await client.GetResponseAsync(conversation, options);
        int afterFirst = counting.Forwarded;
        conversation.AddMessages(first);
        conversation.Add(new ChatMessage(ChatRole.User, "The end"));
        ChatResponse second = await client.GetResponseAsync(conversation, options);

        // The second prompt starts with the first one: only the rest went through the model.
        int secondPrompt = (int)second.Usage!.InputTokenCount!;
        int firstPrompt = (int)first.Usage!.InputTokenCount!;
        // Every counted reply token but a last one cut by the length limit was run to sample the next.
        int replyRuns = (int)second.Usage.OutputTokenCount! - (second.FinishReason == ChatFinishReason.Length ? 1 : 0);
        int promptRuns = counting.Forwarded - afterFirst - replyRuns;
        Assert.InRange(promptRuns, 1, secondPrompt - firstPrompt);
        // And the reply equals what a client that never saw the first turn gives (the managed engine's chunked and
        // token-by-token passes agree exactly, so reuse changes no bit).
        using var fresh = new LlamaChatClient(model);
        Assert.Equal((await fresh.GetResponseAsync(conversation, options)).Text, second.Text);
        Assert.NotEqual("", second.Text);
    }

    /// <summary>A model whose sessions count the tokens they run.</summary>
    private sealed class CountingModel(ILanguageModel inner) : ILanguageModel
    {
        private int _forwarded;

        public int Forwarded => Volatile.Read(ref _forwarded);
        public ModelConfig Config => inner.Config;
        public EngineDescription Description => inner.Description;
        public IModelSession CreateSession() => new Session(inner.CreateSession(), this);
        public BatchForwardResult ForwardBatch(IReadOnlyList<int[]> sequences, BatchOutputs outputs) => inner.ForwardBatch(sequences, outputs);
        public void Dispose() { }

        private sealed class Session(IModelSession inner, CountingModel owner) : IModelSession
        {
            public ModelConfig Config => inner.Config;
            public int Position => inner.Position;
            public void Forward(ReadOnlySpan<int> tokens, int position, Span<float> logits, Span<float> hiddenStates = default)
            {
                Interlocked.Add(ref owner._forwarded, tokens.Length);
                inner.Forward(tokens, position, logits, hiddenStates);
            }
            public void Rewind(int position) => inner.Rewind(position);
            public void Reset() => inner.Reset();
            public void Dispose() => inner.Dispose();
        }
    }
}
