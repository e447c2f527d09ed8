using System.Buffers.Binary;
using System.Text;

namespace MlPipelines.Fuzz;

/// <summary>
/// Turns a seed into a hostile variant, deterministically: input <c>i</c> of a run with seed <c>s</c> is always the same
/// bytes, so any failure can be replayed from its number. Up to four edits are stacked: bit flips, byte overwrites with
/// boundary values, truncations, deletions, insertions, duplicated or spliced ranges (also across seeds), and the
/// format-aware edits a target offers (its counts, lengths and offsets set to boundary values), or JSON- and
/// template-aware ones for text formats. Most edits land in the first 4 KiB, where the headers are.
/// </summary>
public sealed class Mutator(FuzzTarget target, IReadOnlyList<byte[]> seeds)
{
    private const int HeaderBytes = 4096;

    private static readonly ulong[] Boundaries =
    [
        0, 1, 2, 3, 4, 7, 8, 16, 31, 32, 63, 64, 127, 128, 255, 256, 1023, 1024, 4096, 65535, 65536,
        0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, ulong.MaxValue,
        ulong.MaxValue - 1, 0xFFFF_FFFF_FFFF_FFF0,
    ];

    private static readonly string[] JsonValues =
    [
        "-1", "0", "1", "2147483647", "2147483648", "-2147483649", "9223372036854775807", "9223372036854775808",
        "18446744073709551616", "1e308", "-1e308", "1.5", "0.0", "1e-400", "NaN", "\"\"", "\"x\"", "\"\\ud800\"", "null", "true",
        "false", "[]", "{}", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        "[0,0]", "[-1,2147483648]", "{\"a\":1}", "\"\u00ff\"",
    ];

    private static readonly string[] TemplateTokens =
    [
        "{{", "}}", "{%", "%}", "{#", "#}", "{%-", "-%}", "for ", "endfor", "if ", "endif", "else", "elif", "set ", "macro ",
        "endmacro", "call", "(", ")", "[", "]", "|", "~", "*", "**", "/", "//", "%", " in ", " not ", " is ", "loop.index",
        "messages", "message['content']", "range(", "range(99999999)", "raise_exception(", "tojson", "namespace(", ".", ",",
        "'", "\"", "\\", "0", "-1", "9999999999999999999999", "1e400", "none", "true", "|join", "|length", "|trim", "|upper",
        "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((",
        "{% for m in messages %}{% for n in messages %}{% for o in messages %}", "{% endfor %}", "{{ x * 99999999 }}",
        "'ab' * 99999999", "[1] * 99999999",
    ];

    private readonly Dictionary<byte[], IReadOnlyList<BinaryField>> _fields = new(ReferenceEqualityComparer.Instance);

    private const int LargeSeedBytes = 256 << 10;

    /// <summary>The seeds the mutants are made from.</summary>
    public IReadOnlyList<byte[]> Seeds { get; } = seeds.Count > 0 ? seeds : throw new ArgumentException($"{target.Name} has no seeds", nameof(seeds));

    private readonly byte[][] _small = [.. seeds.Where(s => s.Length < LargeSeedBytes)];
    private readonly byte[][] _large = [.. seeds.Where(s => s.Length >= LargeSeedBytes)];

    /// <summary>The random generator for input <paramref name="index"/> of a run with <paramref name="seed"/>.</summary>
    public static Random RandomFor(int seed, long index) => new(HashCode.Combine(seed, index, 0x5eed));

    /// <summary>Input <paramref name="index"/> of the run with <paramref name="seed"/>; every 50th input is a seed unchanged.</summary>
    public byte[] Mutant(int seed, long index)
    {
        Random random = RandomFor(seed, index);
        byte[] baseSeed = PickSeed(random);
        if (index % 50 == 0) return baseSeed;
        var data = new List<byte>(baseSeed);
        bool formatFirst = random.Next(3) > 0;
        if (formatFirst) FormatEdit(data, baseSeed, random);
        // After a format-aware edit, often nothing else: a mutant that still parses reaches the checks behind the parser.
        int edits = formatFirst ? random.Next(3) : 1 + random.Next(4);
        for (int e = 0; e < edits; e++)
            GenericEdit(data, random);
        return [.. data];
    }

    /// <summary>
    /// A seed for the next input: a large one (a real model of a megabyte or more, which takes milliseconds to load) for
    /// one input in 16 when there are small ones too, so the small seeds give the run its speed and the real files keep
    /// the mutants realistic.
    /// </summary>
    private byte[] PickSeed(Random random)
    {
        bool large = _large.Length > 0 && (_small.Length == 0 || random.Next(16) == 0);
        byte[][] pool = large ? _large : _small;
        return pool[random.Next(pool.Length)];
    }

    private void FormatEdit(List<byte> data, byte[] baseSeed, Random random)
    {
        if (target.IsJson) { JsonEdit(data, random); return; }
        if (target.IsTemplate) { TemplateEdit(data, random); return; }
        if (target.EditFormat([.. data], random) is { } edited && random.Next(2) == 0)
        {
            data.Clear();
            data.AddRange(edited);
            return;
        }
        if (!_fields.TryGetValue(baseSeed, out var fields))
            _fields[baseSeed] = fields = target.Fields(baseSeed);
        if (fields.Count == 0) return;
        BinaryField field = fields[random.Next(fields.Count)];
        if (field.Offset + field.Width > data.Count) return;
        ulong old = ReadLittleEndian(data, field.Offset, field.Width);
        ulong value = random.Next(4) switch
        {
            0 => old + 1,
            1 => old - 1,
            2 => old * 2 + (ulong)random.Next(2),
            _ => Boundaries[random.Next(Boundaries.Length)],
        };
        WriteLittleEndian(data, field.Offset, field.Width, value);
    }

    private void GenericEdit(List<byte> data, Random random)
    {
        int Position(int extra = 0) =>
            data.Count + extra == 0 ? 0 : random.Next(4) > 0 ? random.Next(Math.Min(data.Count + extra, HeaderBytes)) : random.Next(data.Count + extra);

        switch (random.Next(9))
        {
            case 0 when data.Count > 0:   // a flipped bit
                { int p = Position(); data[p] ^= (byte)(1 << random.Next(8)); break; }
            case 1 when data.Count > 0:   // a boundary value over 1, 2, 4 or 8 bytes
                {
                    int width = 1 << random.Next(4), p = Position();
                    if (p + width <= data.Count) WriteLittleEndian(data, p, width, Boundaries[random.Next(Boundaries.Length)]);
                    break;
                }
            case 2 when data.Count > 0:   // truncated, mostly inside the header
                Truncate(data, random);
                break;
            case 3 when data.Count > 0:   // a range deleted
                { int p = Position(); data.RemoveRange(p, Math.Min(data.Count - p, 1 + random.Next(random.Next(2) == 0 ? 8 : 256))); break; }
            case 4:   // random bytes inserted
                {
                    int p = Position(1), n = 1 + random.Next(random.Next(2) == 0 ? 4 : 64);
                    var bytes = new byte[n];
                    random.NextBytes(bytes);
                    data.InsertRange(p, bytes);
                    break;
                }
            case 5 when data.Count > 0:   // a range duplicated elsewhere
                {
                    int from = Position(), n = Math.Min(data.Count - from, 1 + random.Next(512));
                    byte[] range = data.GetRange(from, n).ToArray();
                    data.InsertRange(Position(1), range);
                    break;
                }
            case 6 when data.Count > 0:   // a range overwritten by another range (the same file or another seed)
                {
                    byte[] donor = Seeds[random.Next(Seeds.Count)];
                    if (donor.Length == 0) break;
                    int from = random.Next(Math.Min(donor.Length, HeaderBytes * 4)), to = Position();
                    int n = Math.Min(Math.Min(donor.Length - from, data.Count - to), 1 + random.Next(256));
                    for (int i = 0; i < n; i++) data[to + i] = donor[from + i];
                    break;
                }
            case 7:   // spliced: this file's head on another seed's tail
                {
                    byte[] donor = Seeds[random.Next(Seeds.Count)];
                    int cut = Position(), donorCut = donor.Length == 0 ? 0 : random.Next(donor.Length);
                    data.RemoveRange(cut, data.Count - cut);
                    data.AddRange(donor.AsSpan(donorCut).ToArray());
                    break;
                }
            default:   // the same byte repeated over a short run
                if (data.Count == 0) break;
                {
                    int p = Position(), n = Math.Min(data.Count - p, 1 + random.Next(16));
                    byte b = (byte)(random.Next(2) == 0 ? 0 : 0xFF);
                    for (int i = 0; i < n; i++) data[p + i] = b;
                    break;
                }
        }
    }

    private static void Truncate(List<byte> data, Random random)
    {
        int keep = random.Next(3) > 0 ? random.Next(Math.Min(data.Count, HeaderBytes * 2) + 1) : random.Next(data.Count + 1);
        data.RemoveRange(keep, data.Count - keep);
    }

    /// <summary>Replaces a JSON number, string or literal with a boundary value, or deletes or duplicates one.</summary>
    internal static void JsonEdit(List<byte> data, Random random)
    {
        var tokens = JsonTokens(data);
        if (tokens.Count == 0) return;
        var (start, length) = tokens[random.Next(tokens.Count)];
        byte[] replacement = random.Next(6) switch
        {
            0 => [],   // a value gone: a missing or dangling member
            1 => data.GetRange(start, length).Concat(",\"dup\":"u8.ToArray()).Concat(data.GetRange(start, length)).ToArray(),
            2 => Encoding.UTF8.GetBytes(new string('[', 1 + random.Next(200))),
            _ => Encoding.UTF8.GetBytes(JsonValues[random.Next(JsonValues.Length)]),
        };
        data.RemoveRange(start, length);
        data.InsertRange(start, replacement);
    }

    /// <summary>Where the numbers, strings and literals of a JSON text are (a lexical scan; it need not be valid).</summary>
    private static List<(int Start, int Length)> JsonTokens(List<byte> data)
    {
        var tokens = new List<(int, int)>();
        for (int i = 0; i < data.Count && tokens.Count < 100_000;)
        {
            byte b = data[i];
            if (b == '"')
            {
                int j = i + 1;
                while (j < data.Count && data[j] != '"') j += data[j] == '\\' ? 2 : 1;
                j = Math.Min(j + 1, data.Count);
                tokens.Add((i, j - i));
                i = j;
            }
            else if (b is (byte)'-' or >= (byte)'0' and <= (byte)'9' or (byte)'t' or (byte)'f' or (byte)'n')
            {
                int j = i;
                while (j < data.Count && data[j] is not ((byte)',' or (byte)']' or (byte)'}' or (byte)' ' or (byte)'\n' or (byte)':')) j++;
                tokens.Add((i, j - i));
                i = Math.Max(j, i + 1);
            }
            else i++;
        }
        return tokens;
    }

    /// <summary>Inserts template syntax, or replaces a stretch of the template with it.</summary>
    private static void TemplateEdit(List<byte> data, Random random)
    {
        byte[] token = Encoding.UTF8.GetBytes(TemplateTokens[random.Next(TemplateTokens.Length)]);
        int p = data.Count == 0 ? 0 : random.Next(data.Count + 1);
        if (random.Next(2) == 0 && p < data.Count)
            data.RemoveRange(p, Math.Min(data.Count - p, 1 + random.Next(8)));
        data.InsertRange(p, token);
    }

    internal static ulong ReadLittleEndian(List<byte> data, int offset, int width)
    {
        ulong v = 0;
        for (int i = width - 1; i >= 0; i--) v = v << 8 | data[offset + i];
        return v;
    }

    internal static void WriteLittleEndian(List<byte> data, int offset, int width, ulong value)
    {
        for (int i = 0; i < width; i++, value >>= 8) data[offset + i] = (byte)value;
    }

    /// <summary>A little-endian u64 of <paramref name="bytes"/> at <paramref name="offset"/>, or null past the end.</summary>
    internal static ulong? U64(ReadOnlySpan<byte> bytes, long offset) =>
        offset >= 0 && offset + 8 <= bytes.Length ? BinaryPrimitives.ReadUInt64LittleEndian(bytes[(int)offset..]) : null;

    /// <summary>A little-endian u32 of <paramref name="bytes"/> at <paramref name="offset"/>, or null past the end.</summary>
    internal static uint? U32(ReadOnlySpan<byte> bytes, long offset) =>
        offset >= 0 && offset + 4 <= bytes.Length ? BinaryPrimitives.ReadUInt32LittleEndian(bytes[(int)offset..]) : null;
}
