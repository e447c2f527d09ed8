using System.Text;
using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.ManagedEngine.Tests.Tokenization;

/// <summary>
/// A literal port of llama2.c run.c's <c>encode</c> (the O(n²) merge loop) to check the heap-based
/// implementation against. Lookups resolve duplicates to the lowest id, as the real one documents.
/// </summary>
internal sealed class NaiveRunCEncoder
{
    private readonly string[] _vocab; // pieces as one char per byte
    private readonly float[] _scores;
    private readonly Dictionary<string, int> _lookup = new(StringComparer.Ordinal);

    public NaiveRunCEncoder(Llama2cTokenizer tokenizer)
    {
        _vocab = new string[tokenizer.VocabularySize];
        _scores = new float[tokenizer.VocabularySize];
        for (int i = 0; i < _vocab.Length; i++)
        {
            _vocab[i] = Encoding.Latin1.GetString(tokenizer.GetPiece(i));
            _scores[i] = tokenizer.GetScore(i);
            _lookup.TryAdd(_vocab[i], i);
        }
    }

    private int StrLookup(string s) => _lookup.TryGetValue(s, out int id) ? id : -1;

    public List<int> Encode(string text, bool bos, bool eos)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var tokens = new List<int>();
        if (bos) tokens.Add(1);
        if (bytes.Length > 0)
        {
            int dummy = StrLookup(" ");
            tokens.Add(dummy >= 0 ? dummy : ' ' + 3);
        }

        var buffer = new StringBuilder();
        for (int c = 0; c < bytes.Length; c++)
        {
            if ((bytes[c] & 0xC0) != 0x80) buffer.Clear();
            buffer.Append((char)bytes[c]);
            if (c + 1 < bytes.Length && (bytes[c + 1] & 0xC0) == 0x80 && buffer.Length < 4) continue;
            int id = StrLookup(buffer.ToString());
            if (id != -1) tokens.Add(id);
            else foreach (char b in buffer.ToString()) tokens.Add(b + 3);
            buffer.Clear();
        }

        while (true)
        {
            float bestScore = -1e10f;
            int bestId = -1, bestIdx = -1;
            for (int i = 0; i < tokens.Count - 1; i++)
            {
                int id = StrLookup(_vocab[tokens[i]] + _vocab[tokens[i + 1]]);
                if (id != -1 && _scores[id] > bestScore)
                {
                    bestScore = _scores[id];
                    bestId = id;
                    bestIdx = i;
                }
            }
            if (bestIdx == -1) break;
            tokens[bestIdx] = bestId;
            tokens.RemoveAt(bestIdx + 1);
        }
        if (eos) tokens.Add(2);
        return tokens;
    }
}
