namespace Iwae.Datasets;

/// <summary>How a data file's published checksum is computed.</summary>
public enum ChecksumAlgorithm
{
    /// <summary>SHA-256 of the file's bytes, as tensorflow/datasets publishes them.</summary>
    Sha256,

    /// <summary>MD5 of the file's bytes, as torchvision publishes them (an integrity check, not a security one).</summary>
    Md5,

    /// <summary>
    /// Git's blob id: SHA-1 of <c>"blob &lt;size&gt;\0"</c> followed by the file's bytes, as <c>git ls-tree</c>
    /// shows it. Lets a file served from a git repository be pinned by the repository's own record of it.
    /// </summary>
    GitBlobSha1,
}

/// <summary>
/// One file of a named data set: where it comes from and the published checksum that identifies it.
/// </summary>
/// <param name="Name">File name in the set's folder, and the last part of <paramref name="Url"/> (a mirror serves
/// the same name).</param>
/// <param name="Url">Upstream location.</param>
/// <param name="Size">Size in bytes where a source publishes it; null where none does (then only the checksum
/// is checked).</param>
/// <param name="Algorithm">How <paramref name="Checksum"/> is computed.</param>
/// <param name="Checksum">The published checksum, lower-case hex.</param>
/// <param name="ChecksumSource">Where the checksum (and size) were published: repository and path.</param>
public sealed record DataSetFile(string Name, string Url, long? Size, ChecksumAlgorithm Algorithm, string Checksum, string ChecksumSource)
{
    /// <summary>Hex digits of each algorithm's digest.</summary>
    internal int HexLength => Algorithm switch
    {
        ChecksumAlgorithm.Sha256 => 64,
        ChecksumAlgorithm.Md5 => 32,
        _ => 40,
    };
}

/// <summary>A split of a data set (train, valid, test) and the files that hold it.</summary>
/// <param name="Name">"train", "valid" or "test".</param>
/// <param name="Files">Names of the files in <see cref="DataSetDefinition.Files"/>; a file may hold several
/// splits (omniglot's chardata.mat holds both).</param>
public sealed record DataSetSplit(string Name, IReadOnlyList<string> Files);

/// <summary>
/// A named data set as a small record, after torchvision's datasets: its files with their upstream locations and
/// published checksums, and the splits they hold. <see cref="DataSets"/> holds the known ones; a set lives in
/// <c>&lt;data dir&gt;/&lt;Name&gt;/</c>.
/// </summary>
/// <param name="Name">Command-line name, e.g. "mnist"; also the folder name.</param>
/// <param name="Description">One line on what it is.</param>
/// <param name="Licence">Its licence, as its publishers state it.</param>
/// <param name="Homepage">Where it is described.</param>
/// <param name="Files">Its files.</param>
/// <param name="Splits">Which files hold which split.</param>
public sealed record DataSetDefinition(string Name, string Description, string Licence, string Homepage,
                                       IReadOnlyList<DataSetFile> Files, IReadOnlyList<DataSetSplit> Splits)
{
    /// <summary>Bytes of all files, or null if a file's size is not published.</summary>
    public long? TotalSize => Files.All(f => f.Size is not null) ? Files.Sum(f => f.Size!.Value) : null;

    /// <summary>The upstream folder of the first file (all the known sets keep their files in one folder).</summary>
    public string Source => Files.Count == 0 ? Homepage : Files[0].Url[..(Files[0].Url.LastIndexOf('/') + 1)];

    /// <summary>The file called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">The set has no such file.</exception>
    public DataSetFile File(string name)
        => Files.FirstOrDefault(f => f.Name == name)
           ?? throw new ArgumentException($"data set '{Name}' has no file '{name}'; it has {string.Join(", ", Files.Select(f => f.Name))}");

    /// <summary>The split called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">The set has no such split.</exception>
    public DataSetSplit Split(string name)
        => Splits.FirstOrDefault(s => s.Name == name)
           ?? throw new ArgumentException($"data set '{Name}' has no split '{name}'; it has {string.Join(", ", Splits.Select(s => s.Name))}");

    /// <summary>
    /// Checks the record itself: names that are plain file names, distinct; absolute http(s) URLs; hex checksums of
    /// the algorithm's length; splits that name files of the set. Returns this.
    /// </summary>
    /// <exception cref="ArgumentException">What is wrong, naming the set and the file.</exception>
    public DataSetDefinition Validate()
    {
        CheckName(Name, "data set name");
        if (Files.Count == 0) throw new ArgumentException($"data set '{Name}' has no files");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in Files)
        {
            CheckName(f.Name, $"data set '{Name}': file name");
            if (!seen.Add(f.Name)) throw new ArgumentException($"data set '{Name}' lists '{f.Name}' twice");
            if (!Uri.TryCreate(f.Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                throw new ArgumentException($"data set '{Name}': '{f.Name}' has URL '{f.Url}', not an absolute http(s) URL");
            if (f.Size is < 0) throw new ArgumentException($"data set '{Name}': '{f.Name}' has a negative size");
            if (f.Checksum.Length != f.HexLength || !f.Checksum.All(char.IsAsciiHexDigitLower))
                throw new ArgumentException($"data set '{Name}': '{f.Name}' checksum '{f.Checksum}' is not {f.HexLength} lower-case hex digits ({Downloader.AlgorithmName(f.Algorithm)})");
        }
        foreach (var s in Splits)
            foreach (var file in s.Files)
                if (!seen.Contains(file)) throw new ArgumentException($"data set '{Name}': split '{s.Name}' names '{file}', which is not one of its files");
        return this;
    }

    // Names become folder and file names: one path segment, no separators, not "." or "..".
    private static void CheckName(string name, string what)
    {
        if (string.IsNullOrWhiteSpace(name) || name is "." or ".." || name.IndexOfAny(['/', '\\']) >= 0
            || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.EndsWith(".part", StringComparison.Ordinal))
            throw new ArgumentException($"{what} '{name}' is not a plain file name");
    }
}
