namespace Iwae.Core.Data;

/// <summary>What the numbers of <see cref="DataOrigin.Rows"/> count in the source of a data set.</summary>
public enum RowNumbering
{
    /// <summary>Examples built in memory: the row of the tensor given, from 1.</summary>
    Example,

    /// <summary>A text file (CSV, .amat): the line in the file, from 1, header and blank lines counted; a value's column is its field.</summary>
    Line,

    /// <summary>A numpy array (.npy, an .npz member): the row, from 1 (the first index + 1); a value's column counts along the rest, flattened.</summary>
    Row,

    /// <summary>A MATLAB variable that holds one example per column: the column, from 1, as MATLAB indexes it; a value's row is MATLAB's first index.</summary>
    Column,

    /// <summary>An IDX image file: the image, from 1; a value is a pixel, counted row-major from 1.</summary>
    Image,
}

/// <summary>
/// Where each example of a <see cref="Dataset"/> sits in its source, counted as a person counts (from 1, a CSV's
/// header included), so that a message or <c>iwae score</c> can name an example, or a value in it, after any
/// shuffle, split or selection (<see cref="Select"/> keeps each example's number).
/// </summary>
/// <param name="Numbering">What the numbers count (lines, rows, columns, images, examples).</param>
/// <param name="Rows">For each example, in the data set's order, its number in the source.</param>
/// <param name="Array">The array or variable name where the file holds several (.npz, .mat); "" otherwise.</param>
/// <param name="ColumnMajorSide">For a MATLAB variable of side x side images stored column-major (one per column),
/// the side: value p of an example (row-major) is MATLAB row (p % side) * side + p / side + 1. 0: value p is row p + 1.</param>
public sealed record DataOrigin(RowNumbering Numbering, int[] Rows, string Array = "", int ColumnMajorSide = 0)
{
    /// <summary>Examples 1..<paramref name="count"/> of data built in memory.</summary>
    public static DataOrigin InMemory(int count) => Counted(RowNumbering.Example, count);

    /// <summary>Examples numbered 1..<paramref name="count"/> by <paramref name="numbering"/>.</summary>
    public static DataOrigin Counted(RowNumbering numbering, int count, string array = "", int columnMajorSide = 0)
        => new(numbering, [.. Enumerable.Range(1, count)], array, columnMajorSide);

    /// <summary>The examples at <paramref name="indices"/>, in that order, keeping their numbers.</summary>
    public DataOrigin Select(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var rows = new int[indices.Count];
        for (int i = 0; i < rows.Length; i++) rows[i] = Rows[indices[i]];
        return this with { Rows = rows };
    }

    /// <summary>"line", "row", "column", "image" or "example": what <see cref="Rows"/> count.</summary>
    public string RowName => Numbering switch
    {
        RowNumbering.Line => "line",
        RowNumbering.Row => "row",
        RowNumbering.Column => "column",
        RowNumbering.Image => "image",
        _ => "example",
    };

    /// <summary>Example <paramref name="example"/> (0-based here) as its source names it: "line 12", "array 'x_train', row 3", "variable 'data', column 7".</summary>
    public string Describe(int example) => $"{Named}{RowName} {Rows[example]}";

    /// <summary>
    /// Value <paramref name="value"/> (0-based, row-major within the example) of example <paramref name="example"/>
    /// (0-based here), as its source names it, from 1: "line 12, column 3", "row 4, column 2", "variable 'data', row 5, column 7".
    /// </summary>
    public string Locate(int example, int value) => Numbering switch
    {
        RowNumbering.Column => $"{Named}row {(ColumnMajorSide > 0 ? value % ColumnMajorSide * ColumnMajorSide + value / ColumnMajorSide : value) + 1}, column {Rows[example]}",
        RowNumbering.Image => $"image {Rows[example]}, pixel {value + 1}",
        _ => $"{Describe(example)}, column {value + 1}",
    };

    /// <summary>What a row number means, for a reader of `iwae score`'s CSV: "the line in FILE (header and blank lines counted)".</summary>
    public string Meaning(string source) => Numbering switch
    {
        RowNumbering.Line => $"the line in {source} (from 1, header and blank lines counted)",
        RowNumbering.Row => $"the row of {(Array.Length > 0 ? $"array '{Array}' in " : "")}{source} (from 1)",
        RowNumbering.Column => $"the column of variable '{Array}' in {source} (from 1, as MATLAB counts)",
        RowNumbering.Image => $"the image in {source} (from 1)",
        _ => "the example of the data given in memory (from 1)",
    };

    private string Named => Array.Length == 0 ? "" : Numbering == RowNumbering.Column ? $"variable '{Array}', " : $"array '{Array}', ";
}
