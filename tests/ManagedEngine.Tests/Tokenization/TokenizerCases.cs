using System.Text;
using System.Text.Json;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization;

/// <summary>Reads the shared tokenizer test vectors.</summary>
internal static class TokenizerCases
{
    public const string Separator = "\n__ggml_vocab_test__\n";

    /// <summary>Meta's Llama 2 example prompts and their ids (BOS included).</summary>
    public static IReadOnlyList<(string Text, int[] Ids)> Llama2Vectors()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Golden, "llama2_tokenizer_vectors.json")));
        return doc.RootElement.EnumerateArray()
            .Select(e => (e.GetProperty("text").GetString()!, e.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray()))
            .ToList();
    }

    /// <summary>
    /// llama.cpp's cases for a vocabulary: the .inp holds texts each followed by the separator (so the
    /// file ends with one), the .out one line per text of space-separated ids without BOS (each line
    /// starts with a space; an empty text has an empty line).
    /// </summary>
    public static IReadOnlyList<(string Text, int[] Ids)> LlamaCpp(string vocab)
    {
        string dir = Path.Combine(TestPaths.Golden, "llama.cpp-vocab");
        string inp = File.ReadAllText(Path.Combine(dir, vocab + ".inp"), Encoding.UTF8);
        string[] outLines = File.ReadAllText(Path.Combine(dir, vocab + ".out"), Encoding.UTF8).Split('\n');
        if (!inp.EndsWith(Separator, StringComparison.Ordinal)) throw new InvalidDataException("unexpected .inp ending");
        string[] texts = inp[..^Separator.Length].Split(Separator);
        if (outLines[^1].Length == 0) outLines = outLines[..^1];
        if (texts.Length != outLines.Length) throw new InvalidDataException($"{texts.Length} texts but {outLines.Length} id lines");
        return texts.Select((t, i) => (t, outLines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray())).ToList();
    }
}
