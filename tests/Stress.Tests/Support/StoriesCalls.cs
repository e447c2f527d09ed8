using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.ManagedEngine.Generation;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.Stress.Tests.Support;

/// <summary>What a stress thread does with a model.</summary>
internal enum CallKind
{
    /// <summary>Seeded sampling through <see cref="Generator"/> on a session.</summary>
    Generate,

    /// <summary>One prefill returning every position's logits (several chunks for long prompts).</summary>
    Logits,

    /// <summary><see cref="Embedder.Embed"/>: the model's batch path (<see cref="ILanguageModel.ForwardBatch"/>).</summary>
    Embed,

    /// <summary>Encoding and decoding with the shared tokenizer.</summary>
    Tokenize,
}

/// <summary>One call: a kind and which prompt (and seed) it uses.</summary>
internal readonly record struct Call(CallKind Kind, int Index)
{
    public override string ToString() => $"{Kind} #{Index}";

    /// <summary>Every kind over <paramref name="perKind"/> prompts.</summary>
    public static Call[] All(int perKind) =>
        Enum.GetValues<CallKind>().SelectMany(kind => Enumerable.Range(0, perKind).Select(i => new Call(kind, i))).ToArray();
}

/// <summary>
/// The calls the stress tests make on stories260K, each returning a <see cref="Fingerprint"/> of its result, so a call
/// made by one of many threads can be compared with the same call made alone (on a single-threaded model).
/// </summary>
internal sealed class StoriesCalls(ILanguageModel model, PieceTokenizer tokenizer)
{
    private static readonly string[] Prompts =
    [
        "Once upon a time",
        "Lily and Tom went to the park. They saw a big dog",
        "The sun was hot.",
        "One day, a little girl named Sue found a shiny stone in the garden. She wanted to show it to her mom, so she ran",
        "Tim had a red ball",
        "x",
        "The cat sat on the mat and looked at the bird in the tree. The bird sang a song.",
        "Mom said",
    ];

    /// <summary>New tokens per generation: long enough for many steps to overlap, short enough for a fast suite.</summary>
    public const int NewTokens = 24;

    public ILanguageModel Model => model;

    public PieceTokenizer Tokenizer => tokenizer;

    public static string Prompt(int index) => Prompts[index % Prompts.Length];

    /// <summary>Runs <paramref name="call"/>; <paramref name="session"/> (of <see cref="Model"/>) serves the session-based kinds.</summary>
    public string Run(Call call, IModelSession session, CancellationToken cancellationToken = default) => call.Kind switch
    {
        CallKind.Generate => Generate(session, call.Index, cancellationToken),
        CallKind.Logits => Logits(session, call.Index),
        CallKind.Embed => Embed(call.Index),
        _ => Tokenize(call.Index),
    };

    public int[] Encode(int index) => tokenizer.Encode(Prompt(index), addBos: true, addEos: false);

    public static GenerationOptions Generation(int index) => new()
    {
        MaxSteps = 0,
        MaxNewTokens = NewTokens,
        Sampling = new SamplingOptions { Temperature = 1f, TopP = 0.9f, Seed = (ulong)(1000 + index) },
    };

    public string Generate(IModelSession session, int index, CancellationToken cancellationToken = default)
    {
        session.Reset();
        return Fingerprint.Of(Generator.Generate(session, Encode(index), Generation(index), cancellationToken).Select(t => t.Id).ToList());
    }

    public string Logits(IModelSession session, int index)
    {
        int[] prompt = Encode(index);
        var logits = new float[prompt.Length * model.Config.VocabSize];
        session.Reset();
        session.Forward(prompt, 0, logits);
        return Fingerprint.Of(logits);
    }

    /// <summary>Three texts in one batch (rows of different lengths, so padding is exercised).</summary>
    public string Embed(int index) =>
        Fingerprint.Of(new Embedder(model, tokenizer).Embed([Prompt(index), Prompt(index + 3), Prompt(index + 5)]));

    public string Tokenize(int index)
    {
        int[] ids = tokenizer.Encode(Prompt(index) + " " + Prompt(index + 1), addBos: true, addEos: false);
        var bytes = new List<byte>();
        for (int i = 1; i < ids.Length; i++)
            bytes.AddRange(tokenizer.GetPieceBytes(ids[i - 1], ids[i]).ToArray());
        return Fingerprint.Of(ids) + "|" + Convert.ToHexString(bytes.ToArray());
    }

    /// <summary>Each call's result made alone, one after another, on this instance.</summary>
    public Dictionary<Call, string> References(IEnumerable<Call> calls)
    {
        using IModelSession session = model.CreateSession();
        return calls.ToDictionary(call => call, call => Run(call, session));
    }
}
