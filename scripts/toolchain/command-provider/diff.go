package main

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// diffInputs compares old and new inputs of a command:remote:Command:
//   - a change to triggers replaces the resource (create the new one, then
//     delete the old one);
//   - a change to any other input updates it (runs `update`, else `create`);
//   - no change: no diff, so an unchanged `up` runs nothing.
//
// A value that is not known yet (preview) counts as a change. The detailed diff
// names each changed property (and each changed element of triggers) so that
// `pulumi preview --diff` shows them.
func diffInputs(olds, news resource.PropertyMap, ignoreChanges []string) (*pulumirpc.DiffResponse, error) {
	if len(ignoreChanges) > 0 {
		news = news.Copy()
		for _, ic := range ignoreChanges {
			path, err := resource.ParsePropertyPath(ic)
			if err != nil {
				return nil, fmt.Errorf("ignoreChanges: %q: %w", ic, err)
			}
			path.Reset(olds, news)
		}
	}

	keys := map[string]bool{}
	for k := range olds {
		keys[string(k)] = true
	}
	for k := range news {
		keys[string(k)] = true
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		if k == propStdout || k == propStderr || len(k) > 1 && k[:2] == "__" {
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)

	resp := &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_NONE,
		DetailedDiff:    map[string]*pulumirpc.PropertyDiff{},
		HasDetailedDiff: true,
	}
	for _, k := range names {
		o, n := olds[resource.PropertyKey(k)], news[resource.PropertyKey(k)]
		replace := k == propTriggers
		if k == propTriggers && unwrap(o).IsArray() && unwrap(n).IsArray() {
			diffArray(k, unwrap(o).ArrayValue(), unwrap(n).ArrayValue(), resp.DetailedDiff)
		} else if kind, changed := valueDiff(o, n); changed {
			resp.DetailedDiff[k] = &pulumirpc.PropertyDiff{Kind: withReplace(kind, replace), InputDiff: true}
		}
	}

	changed := map[string]bool{}
	for path := range resp.DetailedDiff {
		top := path
		if p, err := resource.ParsePropertyPath(path); err == nil && len(p) > 0 {
			if s, ok := p[0].(string); ok {
				top = s
			}
		}
		changed[top] = true
	}
	for k := range changed {
		resp.Diffs = append(resp.Diffs, k)
		if k == propTriggers {
			resp.Replaces = append(resp.Replaces, k)
		}
	}
	sort.Strings(resp.Diffs)
	if len(resp.Diffs) > 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return resp, nil
}

// valueDiff reports whether o and n differ and how; unknown counts as changed.
func valueDiff(o, n resource.PropertyValue) (pulumirpc.PropertyDiff_Kind, bool) {
	switch {
	case isUnknown(n):
		if isAbsent(o) {
			return pulumirpc.PropertyDiff_ADD, true
		}
		return pulumirpc.PropertyDiff_UPDATE, true
	case isAbsent(o) && isAbsent(n):
		return 0, false
	case isAbsent(o):
		return pulumirpc.PropertyDiff_ADD, true
	case isAbsent(n):
		return pulumirpc.PropertyDiff_DELETE, true
	case n.ContainsUnknowns():
		return pulumirpc.PropertyDiff_UPDATE, true
	case plain(o).DeepEquals(plain(n)):
		return 0, false
	default:
		return pulumirpc.PropertyDiff_UPDATE, true
	}
}

// diffArray records per-element diffs of an array property as "k[i]".
func diffArray(k string, o, n []resource.PropertyValue, out map[string]*pulumirpc.PropertyDiff) {
	for i := 0; i < len(o) || i < len(n); i++ {
		path := fmt.Sprintf("%s[%d]", k, i)
		switch {
		case i >= len(o):
			out[path] = &pulumirpc.PropertyDiff{Kind: pulumirpc.PropertyDiff_ADD_REPLACE, InputDiff: true}
		case i >= len(n):
			out[path] = &pulumirpc.PropertyDiff{Kind: pulumirpc.PropertyDiff_DELETE_REPLACE, InputDiff: true}
		default:
			if kind, changed := valueDiff(o[i], n[i]); changed {
				out[path] = &pulumirpc.PropertyDiff{Kind: withReplace(kind, true), InputDiff: true}
			}
		}
	}
}

func withReplace(kind pulumirpc.PropertyDiff_Kind, replace bool) pulumirpc.PropertyDiff_Kind {
	if !replace {
		return kind
	}
	switch kind {
	case pulumirpc.PropertyDiff_ADD:
		return pulumirpc.PropertyDiff_ADD_REPLACE
	case pulumirpc.PropertyDiff_DELETE:
		return pulumirpc.PropertyDiff_DELETE_REPLACE
	case pulumirpc.PropertyDiff_UPDATE:
		return pulumirpc.PropertyDiff_UPDATE_REPLACE
	}
	return kind
}

// plain removes secret wrappers at every level, so that a value compares equal
// whether or not it was marked secret (secretness alone is no change to run a
// command for; the engine tracks it itself).
func plain(v resource.PropertyValue) resource.PropertyValue {
	v = unwrap(v)
	switch {
	case v.IsArray():
		arr := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			arr[i] = plain(e)
		}
		return resource.NewProperty(arr)
	case v.IsObject():
		m := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			if !isAbsent(e) {
				m[k] = plain(e)
			}
		}
		return resource.NewProperty(m)
	}
	return v
}
