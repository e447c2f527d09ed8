using System.Text;
using MlPipelines.ManagedEngine.Generation;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats.Safetensors;

/// <summary>Runs loaded weights the way the golden tests and the CLI do, for comparisons.</summary>
internal static class HfRuns
{
    private static readonly Lazy<PieceTokenizer> Tokenizer = new(() => TokenizerLoader.Load(TestPaths.Tok512Model, 512));

    /// <summary>A prompt of 26 tokens (BOS first), long enough to exercise attention over many positions.</summary>
    public static int[] Prompt { get; } =
        Tokenizer.Value.Encode("Once upon a time, there was a little girl named Lily. She loved to play with her ball.", addBos: true, addEos: false);

    /// <summary>Logits at every position of <paramref name="tokens"/>, row-major; the weights are disposed.</summary>
    public static float[] Logits(LlamaWeights weights, int[] tokens)
    {
        using var model = new TransformerModel(weights);
        using var session = model.CreateSession();
        var logits = new float[tokens.Length * model.Config.VocabSize];
        session.Forward(tokens, 0, logits);
        return logits;
    }

    /// <summary>Generated ids (after BOS) for run.c's <c>-n 256</c> with the given sampling; the weights are disposed.</summary>
    public static int[] Generate(LlamaWeights weights, SamplingOptions sampling, int steps = 256)
    {
        using var model = new TransformerModel(weights);
        using var session = model.CreateSession();
        var options = new GenerationOptions { MaxSteps = steps, Sampling = sampling };
        return Generator.Generate(session, [model.Config.BosId], options).Select(t => t.Id).ToArray();
    }

    /// <summary>The bytes run.c prints for <paramref name="ids"/> (generated after BOS): its safe_printf filter.</summary>
    public static byte[] Printed(int[] ids)
    {
        var bytes = new List<byte>();
        int previous = 1;
        foreach (int id in ids)
        {
            ReadOnlySpan<byte> piece = Tokenizer.Value.GetPieceBytes(previous, id);
            if (piece.Length > 1 || piece.Length == 1 && (piece[0] is >= 0x20 and <= 0x7E or >= 0x09 and <= 0x0D))
                bytes.AddRange(piece.ToArray());
            previous = id;
        }
        return bytes.ToArray();
    }

    public static string Text(int[] ids) => Encoding.UTF8.GetString(Printed(ids));

    public static int[] GoldenIds(string name) =>
        File.ReadAllText(Path.Combine(TestPaths.Golden, name + ".ids")).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
}
