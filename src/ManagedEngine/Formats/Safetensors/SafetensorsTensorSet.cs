using System.Text.Json;

namespace MlPipelines.ManagedEngine.Formats.Safetensors;

/// <summary>
/// The tensors of a Hugging Face model directory, whichever way they are stored: one
/// <c>model.safetensors</c>, or shards listed by <c>model.safetensors.index.json</c>
/// (<c>{"weight_map": {"tensor name": "shard file name"}}</c>). Each file is opened once and handed
/// to the caller's <see cref="WeightMemory"/>, which keeps its mapping alive and closes it.
/// </summary>
internal sealed class SafetensorsTensorSet
{
    /// <summary>The single-file weights name.</summary>
    public const string WeightsFileName = "model.safetensors";

    /// <summary>The shard index name.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>The largest index accepted; a 70B model's index is about 30 KB.</summary>
    private const long MaxIndexBytes = 64L << 20;

    private readonly Dictionary<string, (SafetensorsFile File, SafetensorsTensor Tensor)> _tensors;

    private SafetensorsTensorSet(string description, Dictionary<string, (SafetensorsFile, SafetensorsTensor)> tensors)
    {
        Description = description;
        _tensors = tensors;
    }

    /// <summary>Where the tensors come from, for messages (a file path, or the index and its shard count).</summary>
    public string Description { get; }

    /// <summary>All tensor names.</summary>
    public IEnumerable<string> Names => _tensors.Keys;

    /// <summary>Finds a tensor and the file it lives in.</summary>
    public bool TryGet(string name, out SafetensorsFile file, out SafetensorsTensor tensor)
    {
        bool found = _tensors.TryGetValue(name, out var entry);
        (file, tensor) = entry;
        return found;
    }

    /// <summary>
    /// Opens the tensors of <paramref name="directory"/>: <c>model.safetensors</c> when it exists (as
    /// transformers prefers it), otherwise the shards its index lists.
    /// </summary>
    /// <exception cref="FileNotFoundException">Neither file exists, or a listed shard does not.</exception>
    /// <exception cref="InvalidDataException">A file or the index is malformed.</exception>
    public static SafetensorsTensorSet Open(string directory, WeightMemory memory)
    {
        string single = Path.Combine(directory, WeightsFileName);
        if (File.Exists(single))
        {
            SafetensorsFile file = memory.Own(SafetensorsFile.Open(single));
            return new SafetensorsTensorSet(single, file.Tensors.ToDictionary(p => p.Key, p => (file, p.Value), StringComparer.Ordinal));
        }
        string index = Path.Combine(directory, IndexFileName);
        if (File.Exists(index))
            return OpenSharded(directory, index, memory);
        throw new FileNotFoundException($"{directory}: holds neither {WeightsFileName} nor {IndexFileName}; expected Hugging Face safetensors weights.",
            single);
    }

    private static SafetensorsTensorSet OpenSharded(string directory, string index, WeightMemory memory)
    {
        List<(string Tensor, string Shard)> map = ReadWeightMap(index);
        string root = Path.GetFullPath(directory);
        var shards = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        var tensors = new Dictionary<string, (SafetensorsFile, SafetensorsTensor)>(StringComparer.Ordinal);
        foreach ((string name, string shardName) in map)
        {
            string shardPath = ShardPath(root, shardName, name, index);
            if (!shards.TryGetValue(shardPath, out SafetensorsFile? shard))
            {
                if (!File.Exists(shardPath))
                    throw new FileNotFoundException($"{index}: weight_map puts tensor \"{name}\" in shard \"{shardName}\", which does not exist.", shardPath);
                shard = memory.Own(SafetensorsFile.Open(shardPath));
                shards.Add(shardPath, shard);
            }
            if (!shard.Tensors.TryGetValue(name, out SafetensorsTensor? tensor))
                throw new InvalidDataException($"{index}: weight_map puts tensor \"{name}\" in shard \"{shardName}\", but {shardPath} holds no such tensor");
            tensors.Add(name, (shard, tensor));
        }
        return new SafetensorsTensorSet($"{index} ({shards.Count} shards)", tensors);
    }

    private static List<(string, string)> ReadWeightMap(string index)
    {
        using JsonDocument document = SmallJsonFile.ReadObject(index, MaxIndexBytes, "a safetensors shard index");
        if (!document.RootElement.TryGetProperty("weight_map", out JsonElement weightMap) || weightMap.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{index}: has no \"weight_map\" object; expected {{\"weight_map\": {{\"tensor name\": \"shard file\"}}}}");
        var map = new List<(string, string)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (JsonProperty p in weightMap.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{index}: weight_map entry for tensor \"{p.Name}\" is not a string; expected a shard file name");
            if (!seen.Add(p.Name))
                throw new InvalidDataException($"{index}: weight_map lists tensor \"{p.Name}\" twice");
            map.Add((p.Name, p.Value.GetString()!));
        }
        return map;
    }

    /// <summary>
    /// Resolves a shard name, which must name a file inside the model directory: an index must not be
    /// able to point the loader at an arbitrary file elsewhere (<c>../../secret</c>, <c>/dev/zero</c>).
    /// </summary>
    private static string ShardPath(string root, string shardName, string tensor, string index)
    {
        string error = $"{index}: weight_map puts tensor \"{tensor}\" in shard \"{shardName}\"; expected a file name inside {root}";
        if (shardName.Length == 0 || Path.IsPathRooted(shardName) || shardName.Contains('\0'))
            throw new InvalidDataException(error);
        string full = Path.GetFullPath(Path.Combine(root, shardName));
        string prefix = Path.EndsInDirectorySeparator(root) ? root : root + Path.DirectorySeparatorChar;
        if (!full.StartsWith(prefix, StringComparison.Ordinal) || full.Length == prefix.Length)
            throw new InvalidDataException(error);
        return full;
    }
}
