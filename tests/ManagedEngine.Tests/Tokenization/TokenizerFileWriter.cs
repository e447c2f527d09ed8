using System.Text;

namespace MlPipelines.ManagedEngine.Tests.Tokenization;

/// <summary>Writes llama2.c tokenizer.bin content for synthetic vocabularies.</summary>
internal static class TokenizerFileWriter
{
    public static byte[] TokenizerBin(IReadOnlyList<(byte[] Piece, float Score)> tokens, int? maxTokenLength = null)
    {
        using var stream = new MemoryStream();
        using var writer = new BinaryWriter(stream);
        writer.Write(maxTokenLength ?? tokens.Max(t => t.Piece.Length));
        foreach (var (piece, score) in tokens)
        {
            writer.Write(score);
            writer.Write(piece.Length);
            writer.Write(piece);
        }
        writer.Flush();
        return stream.ToArray();
    }

    /// <summary>unk, BOS, EOS and the 256 byte tokens as llama2.c's export writes them, then <paramref name="pieces"/>.</summary>
    public static List<(byte[] Piece, float Score)> WithSpecials(IEnumerable<(string Piece, float Score)> pieces)
    {
        var tokens = new List<(byte[], float)> { ("<unk>"u8.ToArray(), 0), ("\n<s>\n"u8.ToArray(), 0), ("\n</s>\n"u8.ToArray(), 0) };
        for (int b = 0; b < 256; b++) tokens.Add((Encoding.ASCII.GetBytes($"<0x{b:X2}>"), 0));
        tokens.AddRange(pieces.Select(p => (Encoding.UTF8.GetBytes(p.Piece), p.Score)));
        return tokens;
    }
}
