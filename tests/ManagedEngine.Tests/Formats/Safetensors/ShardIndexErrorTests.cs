using System.Text.Json.Nodes;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats.Safetensors;

/// <summary>Broken or hostile <c>model.safetensors.index.json</c> files.</summary>
public class ShardIndexErrorTests
{
    private const string Index = "model.safetensors.index.json";

    /// <summary>A valid two-shard directory whose index is then rewritten by <paramref name="edit"/>.</summary>
    private static TempDir ShardedWith(Action<JsonObject> edit)
    {
        var tmp = new TempDir();
        HfModelFiles.WriteSharded(tmp.Path, HfModelFiles.ReadStories260K(), firstShardCount: 20);
        var index = JsonNode.Parse(File.ReadAllText(tmp.File(Index)))!.AsObject();
        edit(index);
        File.WriteAllText(tmp.File(Index), index.ToJsonString());
        return tmp;
    }

    private static T LoadFails<T>(TempDir tmp, params string[] expectedInMessage) where T : Exception
    {
        using (tmp)
        {
            var e = Assert.Throws<T>(() => HuggingFaceCheckpoint.Load(tmp.Path).Dispose());
            foreach (string s in expectedInMessage)
                Assert.Contains(s, e.Message);
            return e;
        }
    }

    private static JsonObject Map(JsonObject index) => index["weight_map"]!.AsObject();

    [Theory]
    [InlineData("../model-00001-of-00002.safetensors")]
    [InlineData("/etc/passwd")]
    [InlineData("sub/../../x.safetensors")]
    [InlineData(".")]
    [InlineData("")]
    public void Shard_names_must_stay_inside_the_directory(string shard) =>
        LoadFails<InvalidDataException>(ShardedWith(i => Map(i)["model.norm.weight"] = shard),
            Index, "tensor \"model.norm.weight\"", $"shard \"{shard}\"", "expected a file name inside");

    [Fact]
    public void Listed_tensor_absent_from_its_shard() =>
        LoadFails<InvalidDataException>(ShardedWith(i => Map(i)["model.norm.weight"] = "model-00001-of-00002.safetensors"),
            Index, "tensor \"model.norm.weight\"", "holds no such tensor");

    [Fact]
    public void Missing_shard_file() =>
        LoadFails<FileNotFoundException>(ShardedWith(i => Map(i)["model.norm.weight"] = "model-00003-of-00002.safetensors"),
            Index, "model-00003-of-00002.safetensors", "does not exist");

    [Fact]
    public void Tensor_left_out_of_the_weight_map_is_missing() =>
        LoadFails<InvalidDataException>(ShardedWith(i => Map(i).Remove("model.layers.3.self_attn.o_proj.weight")),
            Index, "tensor \"model.layers.3.self_attn.o_proj.weight\" is missing");

    [Fact]
    public void Index_without_a_weight_map() =>
        LoadFails<InvalidDataException>(ShardedWith(i => i.Remove("weight_map")), Index, "no \"weight_map\" object");

    [Fact]
    public void Weight_map_entry_that_is_not_a_string() =>
        LoadFails<InvalidDataException>(ShardedWith(i => Map(i)["model.norm.weight"] = 1), Index, "\"model.norm.weight\" is not a string");

    [Fact]
    public void Corrupt_shard_is_named()
    {
        var tmp = ShardedWith(_ => { });
        string shard = tmp.File("model-00002-of-00002.safetensors");
        byte[] bytes = File.ReadAllBytes(shard);
        File.WriteAllBytes(shard, bytes[..^4]);
        LoadFails<InvalidDataException>(tmp, shard, "truncated");
    }
}
