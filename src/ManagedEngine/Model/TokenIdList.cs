using System.Collections;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MlPipelines.ManagedEngine.Model;

/// <summary>
/// An immutable list of token ids that compares by its contents, so the <see cref="ModelConfig"/> record that holds one
/// keeps value equality. Serialised as a JSON array.
/// </summary>
[JsonConverter(typeof(TokenIdListJsonConverter))]
public sealed class TokenIdList : IReadOnlyList<int>, IEquatable<TokenIdList>
{
    private readonly int[] _ids;

    /// <summary>The empty list.</summary>
    public static TokenIdList Empty { get; } = new([]);

    /// <summary>A list of <paramref name="ids"/> in order, duplicates removed.</summary>
    public TokenIdList(IEnumerable<int> ids) => _ids = ids.Distinct().ToArray();

    /// <inheritdoc/>
    public int Count => _ids.Length;

    /// <inheritdoc/>
    public int this[int index] => _ids[index];

    /// <summary>Whether <paramref name="id"/> is in the list (a short list: a scan is fastest).</summary>
    public bool Contains(int id) => Array.IndexOf(_ids, id) >= 0;

    /// <inheritdoc/>
    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)_ids).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _ids.GetEnumerator();

    /// <inheritdoc/>
    public bool Equals(TokenIdList? other) => other is not null && _ids.AsSpan().SequenceEqual(other._ids);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as TokenIdList);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (int id in _ids) hash.Add(id);
        return hash.ToHashCode();
    }

    /// <inheritdoc/>
    public override string ToString() => $"[{string.Join(", ", _ids)}]";

    private sealed class TokenIdListJsonConverter : JsonConverter<TokenIdList>
    {
        public override TokenIdList Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            new(JsonSerializer.Deserialize<int[]>(ref reader, options) ?? []);

        public override void Write(Utf8JsonWriter writer, TokenIdList value, JsonSerializerOptions options) =>
            JsonSerializer.Serialize(writer, value._ids, options);
    }
}
