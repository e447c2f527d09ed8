using System.Text;
using Microsoft.ML;
using System.Text.Json.Serialization;
using Microsoft.ML.Data;
using MlPipelines.ChatTemplates;
using MlPipelines.ManagedEngine.Chat;
using MlPipelines.ManagedEngine.Generation;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>Settings of the generation transform.</summary>
public sealed record LlamaGenerateOptions
{
    /// <summary>
    /// The prompt column. Named by the catalog method's arguments (<c>GenerateWithLlama(model, outputColumnName, inputColumnName, options)</c>), the one place columns are named, and
    /// recorded here so a saved pipeline keeps it.
    /// </summary>
    [JsonInclude]
    public string InputColumn { get; internal init; } = "";

    /// <summary>The output column: the completion text (without the prompt). Named by the catalog method's arguments, like <see cref="InputColumn"/>.</summary>
    [JsonInclude]
    public string OutputColumn { get; internal init; } = "";

    /// <summary>At most this many new tokens per row (default 64).</summary>
    public int MaxNewTokens { get; init; } = 64;

    /// <summary>Sampling temperature; 0 (the default) is greedy, so a pipeline is deterministic.</summary>
    public float Temperature { get; init; }

    /// <summary>Nucleus threshold (0 or 1 disables).</summary>
    public float TopP { get; init; } = 0.9f;

    /// <summary>Keep the k most likely tokens (0 disables).</summary>
    public int TopK { get; init; }

    /// <summary>
    /// Base seed. Row <c>i</c> samples with seed <c>Seed + i</c>, so each row is reproducible on its own,
    /// whatever other rows are read, and rows with the same prompt still differ. Null: taken from the
    /// <see cref="MLContext"/>'s random source when the transform is made through its catalog (so
    /// <c>new MLContext(seed: s)</c> makes runs repeatable, as with every ML.NET component), else 1. The seed used is
    /// saved with the pipeline.
    /// </summary>
    public ulong? Seed { get; init; }

    /// <summary>
    /// Opt-in: draw a fresh base seed from the operating system's randomness each time the transform is made, so
    /// runs differ even with a seeded <see cref="MLContext"/>. Ignored when <see cref="Seed"/> is set.
    /// </summary>
    public bool RandomSeed { get; init; }

    /// <summary>The seed a transform made with these options uses when none comes from an <see cref="MLContext"/>.</summary>
    public const ulong DefaultSeed = 1;

    /// <summary>
    /// Chat mode: the input column holds the user's message, written into the model's chat template (its
    /// tokenizer_config.json, chat_template.jinja or GGUF template; <see cref="SystemPrompt"/> first when set) with the
    /// assistant's turn opened, and the completion ends at the model's end-of-turn ids. A model without a chat template
    /// is an error at <c>Fit</c>.
    /// </summary>
    public bool Chat { get; init; }

    /// <summary>In chat mode, a system message put before every row's user message.</summary>
    public string? SystemPrompt { get; init; }

    /// <summary>Generation stops at the first of these strings; the string is not included.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>
    /// What happens to a prompt that leaves no room for <see cref="MaxNewTokens"/> in the model's context (it may hold
    /// at most context − <see cref="MaxNewTokens"/> tokens, BOS included). Default <see cref="LongInputPolicy.Error"/>:
    /// the row is refused with an error naming the column and row, so no row silently gets fewer tokens than asked.
    /// <see cref="LongInputPolicy.TruncateStart"/> keeps BOS and the prompt's end (the usual choice for generation).
    /// </summary>
    public LongInputPolicy LongPrompts { get; init; } = LongInputPolicy.Error;

    /// <summary>
    /// When set, a text column of this name says why each completion ended: <c>stop</c> (end of text or a stop
    /// string), <c>length</c> (<see cref="MaxNewTokens"/> reached) or <c>context</c> (the context was full first).
    /// </summary>
    public string? FinishReasonColumn { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (MaxNewTokens < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "At least one new token is needed.");
        new SamplingOptions { Temperature = Temperature, TopP = TopP, TopK = TopK }.Validate();
        if (SystemPrompt is not null && !Chat)
            throw new ArgumentException("A system prompt is only used in chat mode; set Chat = true.", nameof(SystemPrompt));
        if (StopStrings.Any(string.IsNullOrEmpty))
            throw new ArgumentException("Stop strings must not be empty.", nameof(StopStrings));
        if (!Enum.IsDefined(LongPrompts))
            throw new ArgumentOutOfRangeException(nameof(LongPrompts), LongPrompts, "Unknown long-input policy.");
        if (FinishReasonColumn is { Length: 0 })
            throw new ArgumentException("The finish-reason column name must not be empty (null: no such column).", nameof(FinishReasonColumn));
    }
}

/// <summary>Estimator of <see cref="LlamaGenerateTransformer"/>.</summary>
public sealed class LlamaGenerateEstimator : LlamaEstimatorBase<LlamaGenerateTransformer>
{
    private readonly LlamaModelReference _model;
    private readonly LlamaGenerateOptions _options;

    // A missing Seed becomes DefaultSeed (or a random one with RandomSeed) when the transformer is created.
    internal LlamaGenerateEstimator(LlamaModelReference model, LlamaGenerateOptions options)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
    }

    // Each transformer gets a concrete seed, so what it generates is reproducible and saved with the pipeline.
    private protected override LlamaGenerateTransformer Create() => new(_model, _options.Seed is null
        ? _options with { Seed = _options.RandomSeed ? NonZero((ulong)Random.Shared.NextInt64()) : LlamaGenerateOptions.DefaultSeed }
        : _options);

    internal static ulong NonZero(ulong seed) => seed == 0 ? 1 : seed;
}

/// <summary>Prompt → completion text, generated row by row on the chosen engine.</summary>
public sealed class LlamaGenerateTransformer : LlamaTransformerBase
{
    private readonly Lazy<RowComputation> _computation;

    internal LlamaGenerateTransformer(LlamaModelReference model, LlamaGenerateOptions options) : base(model, options.InputColumn)
    {
        Options = options;
        ArgumentException.ThrowIfNullOrEmpty(options.OutputColumn);
        options.Validate();
        _computation = new Lazy<RowComputation>(() => new RowComputation(this));
    }

    /// <summary>The settings.</summary>
    public LlamaGenerateOptions Options { get; }

    internal override IRowComputation Computation => _computation.Value;

    internal override StageSettings Settings => StageSettings.Of(this, Options);

    private sealed class RowComputation(LlamaGenerateTransformer owner) : IRowComputation
    {
        private readonly LoadedModel _loaded = owner.Model.Open();
        private readonly ChatFormat? _chat = owner.Options.Chat ? ChatFormatOf(owner) : null;

        public string InputColumn => owner.InputColumn;

        public IReadOnlyList<DataViewSchema.DetachedColumn> OutputColumns { get; } = owner.Options.FinishReasonColumn is { } reason
            ? [new(owner.Options.OutputColumn, TextDataViewType.Instance), new(reason, TextDataViewType.Instance)]
            : [new(owner.Options.OutputColumn, TextDataViewType.Instance)];

        public int BatchSize => 1;

        public void Compute(IReadOnlyList<string> texts, IReadOnlyList<long> positions, object[][] results)
        {
            using var session = _loaded.Model.CreateSession();
            for (int i = 0; i < texts.Count; i++)
            {
                var (text, reason) = Complete(session, texts[i], positions[i]);
                results[0][i] = text.AsMemory();
                if (results.Length > 1) results[1][i] = reason.AsMemory();
            }
        }

        private (string Text, string FinishReason) Complete(MlPipelines.ManagedEngine.Model.IModelSession session, string prompt, long row)
        {
            LlamaGenerateOptions o = owner.Options;
            int context = _loaded.Model.Config.MaxSequenceLength;
            int[] tokens = RowErrors.For(owner.InputColumn, row, () => TokenLimits.Fit(
                Encode(prompt), Math.Max(1, context - o.MaxNewTokens), o.LongPrompts, keepFirst: true));
            var options = new GenerationOptions
            {
                MaxSteps = 0,                                    // the whole context; the new tokens are counted below
                MaxNewTokens = o.MaxNewTokens,
                Sampling = new SamplingOptions
                {
                    Temperature = o.Temperature,
                    TopP = o.TopP,
                    TopK = o.TopK,
                    Seed = RowSeed(o.Seed ?? LlamaGenerateOptions.DefaultSeed, row),
                },
                StopTokenIds = _chat is null ? [] : ChatPrompt.StopIds(_loaded.Model.Config, _loaded.Tokenizer, _chat),
            };
            var bytes = new List<byte>();
            int generated = 0;
            foreach (GeneratedToken token in Generator.Generate(session, tokens, options))
            {
                if (token.IsPrompt) continue;
                generated++;
                bytes.AddRange(_loaded.Tokenizer.GetPieceBytes(token.Previous, token.Id));
                if (o.StopStrings.Count > 0 && CutAtStop(Encoding.UTF8.GetString([.. bytes]), o.StopStrings) is { } cut)
                    return (cut, "stop");
            }
            string reason = generated >= o.MaxNewTokens ? "length" : tokens.Length + generated >= context ? "context" : "stop";
            return (Encoding.UTF8.GetString([.. bytes]), reason);
        }

        /// <summary>The prompt's ids: the text after BOS, or in chat mode the rendered conversation with its control tokens.</summary>
        private int[] Encode(string text)
        {
            if (_chat is null)
                return _loaded.Tokenizer.Encode(text, addBos: true, addEos: false);
            List<ChatMessage> messages = owner.Options.SystemPrompt is { } system ? [ChatMessage.System(system)] : [];
            messages.Add(ChatMessage.User(text));
            return ChatPrompt.Encode(_loaded.Tokenizer, _chat, _chat.Render(messages, addGenerationPrompt: true));
        }

        private static ChatFormat ChatFormatOf(LlamaGenerateTransformer owner) =>
            ChatFormat.Find(owner.Model.Model ?? throw new NotSupportedException(
                    "Chat mode needs the model's files to find its chat template; reference the model by name or path."))
            ?? throw new InvalidDataException($"{owner.Model.Model.Path}: no chat template found (tokenizer_config.json's chat_template, " +
                $"{ChatFormat.TemplateFileName} or a GGUF's tokenizer.chat_template); chat mode (LlamaGenerateOptions.Chat) needs one.");

        private static string? CutAtStop(string text, IReadOnlyList<string> stops)
        {
            int first = -1;
            foreach (string stop in stops)
            {
                int at = text.IndexOf(stop, StringComparison.Ordinal);
                if (at >= 0 && (first < 0 || at < first)) first = at;
            }
            return first < 0 ? null : text[..first];
        }

        // 0 would mean "seed from the clock" to the sampler; skip it.
        private static ulong RowSeed(ulong seed, long row) => unchecked(seed + (ulong)row) is var s && s != 0 ? s : 1;
    }
}
