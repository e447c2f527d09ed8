using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using MlPipelines.ManagedEngine.Chat;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.OnnxEngine;

namespace MlPipelines.AI;

/// <summary>
/// An <see cref="IChatClient"/> over a language model on either engine. The conversation is written in the model's chat
/// template (or as plain text, see <see cref="LlamaChatClientOptions.RequireChatTemplate"/>) and the reply is generated
/// exactly as the library's <see cref="ManagedEngine.Generation.Generator"/> generates it: the same sampler, seed and stop
/// rules, so the same seed gives the same text. Thread-safe: each request generates on a session of a bounded pool.
/// </summary>
public sealed class LlamaChatClient : IChatClient
{
    /// <summary>The provider name in <see cref="ChatClientMetadata"/>.</summary>
    public const string ProviderName = "mlpipelines";

    /// <summary>
    /// A <see cref="ChatOptions.AdditionalProperties"/> key: when its value is <c>true</c>, the messages are written as plain
    /// text (BOS, then each message's text on its own line) even when the model has a chat template, so the reply continues
    /// the text as <c>mlpipe generate --prompt</c> does. An OpenAI-style completion (<c>/v1/completions</c>) sets it.
    /// </summary>
    public const string PlainTextPromptKey = "mlpipelines.plain_text_prompt";

    private readonly ConversationPrompt _prompt;
    private readonly SessionPool _pool;
    private readonly ChatClientMetadata _metadata;
    private readonly bool _ownsModel;

    /// <summary>Creates a client over <paramref name="model"/> with its <paramref name="tokenizer"/> and chat <paramref name="format"/> (null: none).</summary>
    /// <param name="model">The model; it is disposed with the client only when <paramref name="ownsModel"/> is set.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="format">The model's chat format (<see cref="ChatFormat.Find"/>), or null for a model without one.</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <param name="ownsModel">Dispose the model when the client is disposed.</param>
    /// <exception cref="InvalidDataException">The model has no chat template and <see cref="LlamaChatClientOptions.RequireChatTemplate"/> is set.</exception>
    public LlamaChatClient(ILanguageModel model, PieceTokenizer tokenizer, ChatFormat? format, LlamaChatClientOptions? options = null, bool ownsModel = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        options ??= new LlamaChatClientOptions();
        options.Validate();
        if (format is null && options.RequireChatTemplate)
            throw new InvalidDataException($"{model.Description.Model}: no chat template found (tokenizer_config.json's chat_template, " +
                $"{ChatFormat.TemplateFileName} or a GGUF's tokenizer.chat_template), and {nameof(LlamaChatClientOptions.RequireChatTemplate)} is set.");
        Model = model;
        Tokenizer = tokenizer;
        Format = format;
        Options = options;
        _ownsModel = ownsModel;
        _prompt = new ConversationPrompt(tokenizer, model.Config, format);
        _pool = new SessionPool(model, options.MaxConcurrentSessions);
        _metadata = new ChatClientMetadata(ProviderName, providerUri: null, options.ModelId ?? model.Description.Model);
    }

    /// <summary>Creates a client over a loaded model, in the chat format found beside it (see <see cref="ChatFormat.Find"/>).</summary>
    public LlamaChatClient(LoadedModel model, LlamaChatClientOptions? options = null, bool ownsModel = false)
        : this(NotNull(model).Model, model.Tokenizer, ChatFormat.Find(model.Source), options, ownsModel)
    {
    }

    /// <summary>The model replies are generated with.</summary>
    public ILanguageModel Model { get; }

    /// <summary>The model's tokenizer.</summary>
    public PieceTokenizer Tokenizer { get; }

    /// <summary>The chat format conversations are written in, or null (plain text).</summary>
    public ChatFormat? Format { get; }

    /// <summary>The settings in use.</summary>
    public LlamaChatClientOptions Options { get; }

    /// <summary>The client's metadata: provider <see cref="ProviderName"/> and the model id.</summary>
    public ChatClientMetadata Metadata => _metadata;

    /// <summary>Opens <paramref name="model"/> (a path, name or Hugging Face id) on <paramref name="engine"/> and returns a client that owns it.</summary>
    public static LlamaChatClient Open(string? model, EngineKind engine = EngineKind.Managed, LlamaChatClientOptions? options = null, EngineOptions? engineOptions = null)
    {
        LoadedModel loaded = LanguageModels.Open(model, tokenizer: null, engine, engineOptions);
        try
        {
            return new LlamaChatClient(loaded, options, ownsModel: true);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// One update per decoded piece of text; the last update carries the <see cref="ChatFinishReason"/> (stop: an end id or a
    /// stop sequence; length: <c>MaxOutputTokens</c> or the context) and the token counts as <see cref="UsageContent"/>.
    /// </remarks>
    /// <exception cref="ArgumentException">The conversation is empty.</exception>
    /// <exception cref="ContextLengthExceededException">The conversation does not fit the context.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A sampling setting is invalid (e.g. a negative temperature).</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled; checked before every step.</exception>
    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        // Settings and prompt are checked now, so a bad request fails at the call rather than at the first MoveNext.
        Request request = ToRequest(options);
        bool plainText = options?.AdditionalProperties?.TryGetValue(PlainTextPromptKey, out object? plain) == true && plain is true;
        int[] prompt = _prompt.Encode(messages, options?.Instructions, plainText);
        return Generate(prompt, request, cancellationToken);
    }

    private async IAsyncEnumerable<ChatResponseUpdate> Generate(int[] prompt, Request request, [EnumeratorCancellation] CancellationToken ct)
    {
        string responseId = Guid.NewGuid().ToString("N");
        DateTimeOffset created = DateTimeOffset.UtcNow;
        ChatResponseUpdate Update(string text) => new(ChatRole.Assistant, text)
        {
            ResponseId = responseId, MessageId = responseId, ModelId = _metadata.DefaultModelId, CreatedAt = created,
        };

        ModelConfig config = Model.Config;
        PooledSession pooled = await _pool.RentAsync(prompt, ct).ConfigureAwait(false);
        try
        {
            float[] logits = pooled.Logits(config.VocabSize);
            int reused = Options.ReusePrefix ? Math.Min(pooled.CommonPrefix(prompt), prompt.Length - 1) : 0;
            // The forward passes run on the thread pool so that a caller's thread (a UI, a request handler) is never blocked.
            await Task.Run(() => Run(pooled, prompt, reused, prompt.Length - reused, logits), ct).ConfigureAwait(false);

            var sampler = new Sampler(config.VocabSize, request.Sampling);
            var text = new ReplyText(Tokenizer, request.StopSequences);
            var step = new int[1];
            int previous = prompt[^1], generated = 0;
            ChatFinishReason finish;
            for (int pos = prompt.Length; ; pos++)
            {
                ct.ThrowIfCancellationRequested();
                int next = sampler.Sample(logits);
                // Generator's stop rules: BOS (llama2.c models emit it between stories), the end ids, the template's end of turn.
                if (next == config.BosId || config.IsEndOfSequence(next) || _prompt.StopIds.Contains(next))
                {
                    finish = ChatFinishReason.Stop;
                    break;
                }
                generated++;
                string piece = text.Append(previous, next);
                if (piece.Length > 0) yield return Update(piece);
                if (text.Stopped)
                {
                    finish = ChatFinishReason.Stop;
                    break;
                }
                if (pos >= config.MaxSequenceLength || generated == request.MaxOutputTokens)
                {
                    finish = ChatFinishReason.Length;
                    break;
                }
                ct.ThrowIfCancellationRequested();
                step[0] = next;
                int at = pos;
                await Task.Run(() => Run(pooled, step, at, 1, logits), ct).ConfigureAwait(false);
                previous = next;
            }
            string rest = text.Finish();
            if (rest.Length > 0) yield return Update(rest);
            var usage = new UsageDetails { InputTokenCount = prompt.Length, OutputTokenCount = generated, TotalTokenCount = prompt.Length + generated };
            yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(usage)])
            {
                ResponseId = responseId, MessageId = responseId, ModelId = _metadata.DefaultModelId, CreatedAt = created, FinishReason = finish,
            };
        }
        finally
        {
            _pool.Return(pooled);
        }
    }

    /// <summary>Runs <paramref name="tokens"/>[..count] at <paramref name="position"/> and records them as the cache's tokens from there on.</summary>
    private static void Run(PooledSession pooled, int[] tokens, int position, int count, float[] logits)
    {
        int start = tokens.Length - count;
        pooled.Tokens.RemoveRange(position, pooled.Tokens.Count - position);
        try
        {
            pooled.Session.Forward(tokens.AsSpan(start, count), position, logits);
        }
        catch
        {
            pooled.Forget();
            throw;
        }
        pooled.Tokens.AddRange(tokens.AsSpan(start, count));
    }

    private Request ToRequest(ChatOptions? options)
    {
        SamplingOptions sampling = Options.Sampling;
        if (options is not null)
            sampling = sampling with
            {
                Temperature = options.Temperature ?? sampling.Temperature,
                TopP = options.TopP ?? sampling.TopP,
                TopK = options.TopK ?? sampling.TopK,
                Seed = options.Seed is long seed ? unchecked((ulong)seed) : sampling.Seed,
            };
        sampling.Validate();
        int maxOutput = options?.MaxOutputTokens ?? Options.MaxOutputTokens;
        if (options?.MaxOutputTokens is < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxOutputTokens, "ChatOptions.MaxOutputTokens must be ≥ 1.");
        string[] stops = options?.StopSequences?.Where(s => !string.IsNullOrEmpty(s)).ToArray() ?? [];
        return new Request(sampling, maxOutput, stops);
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType.IsInstanceOfType(this)) return this;
        if (serviceType.IsInstanceOfType(Model)) return Model;
        if (serviceType.IsInstanceOfType(Tokenizer)) return Tokenizer;
        if (Format is not null && serviceType == typeof(ChatFormat)) return Format;
        return null;
    }

    /// <summary>Releases the pooled sessions, and the model when the client owns it.</summary>
    public void Dispose()
    {
        _pool.Dispose();
        if (_ownsModel) Model.Dispose();
    }

    private static LoadedModel NotNull(LoadedModel model) => model ?? throw new ArgumentNullException(nameof(model));

    /// <summary>A request's settings once defaults are applied; <see cref="MaxOutputTokens"/> 0 = until the context is full.</summary>
    private sealed record Request(SamplingOptions Sampling, int MaxOutputTokens, IReadOnlyList<string> StopSequences);
}
