<?php
// What a teacher, an administrator or cron does in Moodle, done with Moodle's own code so that
// the real-Moodle tests can cause it (run by the kit: php-run --base DIR moodle_ops.php --op=…).
//   --op=teacher  --courseid=C                      a teacher enrolled in C (created once); prints its id
//   --op=override --cmid=M --userids=1,2 [--state=1] the teacher overrides activity completion
//                                                   (what the completion report's override menu does)
//   --op=grade    --courseid=C --userid=U --grade=G a manual grade item "Oral" (created once), graded
//   --op=take     --sessionid=S --userid=U --status=P  attendance taken through the module's take screen
//   --op=log      --sessionid=S                     the session's attendance_log rows
//   --op=report   --name=N                          the completion report connectors/moodle/detect.py
//                                                   reads, the kit's role in its audience (made once); its id
//   --op=attreport --name=N                         a custom report on mod_attendance's own source
//                                                   (who was marked what, when), made once; its id
//   --op=visible  --courseid=C --visible=0|1        hide or show a course
// Prints one JSON line.
define('CLI_SCRIPT', true);
require(getenv('MOODLE_DIR') . '/config.php');
require_once($CFG->libdir . '/completionlib.php');
require_once($CFG->libdir . '/gradelib.php');
require_once($CFG->dirroot . '/course/lib.php');
require_once($CFG->dirroot . '/mod/attendance/locallib.php');
require_once($CFG->libdir . '/testing/generator/lib.php');

use core_reportbuilder\local\filters\boolean_select;
use core_reportbuilder\local\helpers\report as report_helper;
use core_reportbuilder\manager;
use core_reportbuilder\reportbuilder\audience\systemrole;

$o = getopt('', ['op:', 'courseid:', 'cmid:', 'userids:', 'userid:', 'state:', 'grade:', 'sessionid:',
    'status:', 'name:', 'visible:']);
\core\session\manager::set_user(get_admin());
$gen = new testing_data_generator();

function teacher(int $courseid): stdClass {
    global $DB, $gen;
    $user = $DB->get_record('user', ['username' => 'bbteacher', 'deleted' => 0])
        ?: $gen->create_user(['username' => 'bbteacher', 'firstname' => 'Nadia', 'lastname' => 'Formatrice',
            'email' => 'bbteacher@example.org']);
    if (!is_enrolled(context_course::instance($courseid), $user)) {
        $gen->enrol_user($user->id, $courseid, 'editingteacher');
    }
    return $user;
}

switch ($o['op']) {
    case 'teacher':
        $out = ['userid' => (int)teacher((int)$o['courseid'])->id];
        break;
    case 'override':
        [$course, $cm] = get_course_and_cm_from_cmid((int)$o['cmid']);
        \core\session\manager::set_user(teacher((int)$course->id));
        $completion = new completion_info($course);
        $states = [];
        foreach (explode(',', $o['userids']) as $userid) {
            $completion->update_state($cm, (int)($o['state'] ?? COMPLETION_COMPLETE), (int)$userid, true);
            $states[$userid] = (int)$completion->get_data($cm, false, (int)$userid)->completionstate;
        }
        $out = ['states' => $states];
        break;
    case 'grade':
        $courseid = (int)$o['courseid'];
        $item = grade_item::fetch(['courseid' => $courseid, 'itemtype' => 'manual', 'itemname' => 'Oral'])
            ?: new grade_item($gen->create_grade_item(['courseid' => $courseid, 'itemname' => 'Oral',
                'grademax' => 20]), false);
        $item->update_final_grade((int)$o['userid'], (float)$o['grade'], 'test');
        $out = ['itemid' => (int)$item->id];
        break;
    case 'take':
        $session = $DB->get_record('attendance_sessions', ['id' => (int)$o['sessionid']], '*', MUST_EXIST);
        $cm = get_coursemodule_from_instance('attendance', $session->attendanceid, 0, false, MUST_EXIST);
        $course = get_course($cm->course);
        \core\session\manager::set_user(teacher((int)$course->id));
        $params = new mod_attendance_take_page_params();
        $params->sessionid = $session->id;
        $params->grouptype = 0;
        $params->init($course->id);
        $att = new mod_attendance_structure($DB->get_record('attendance', ['id' => $session->attendanceid]),
            $cm, $course, context_module::instance($cm->id), $params);
        $status = $DB->get_field('attendance_statuses', 'id', ['attendanceid' => $att->id,
            'acronym' => $o['status'] ?? 'P', 'setnumber' => $session->statusset, 'deleted' => 0]);
        $att->take_from_form_data((object)['user' . $o['userid'] => $status, 'remarks' . $o['userid'] => '']);
        $out = ['statusid' => (int)$status];
        break;
    case 'log':
        $rows = $DB->get_records('attendance_log', ['sessionid' => (int)$o['sessionid']], 'id',
            'id, studentid, statusid, statusset, takenby, remarks');
        $out = ['rows' => array_values($rows)];
        break;
    case 'report':
        if ($id = $DB->get_field('reportbuilder_report', 'id', ['name' => $o['name'], 'type' => 0])) {
            $out = ['reportid' => (int)$id];
            break;
        }
        $report = report_helper::create_report((object)['name' => $o['name'],
            'source' => \core_course\reportbuilder\datasource\participants::class], false);
        $id = $report->get('id');
        foreach (['user:fullnamewithlink', 'course:coursefullnamewithlink', 'completion:timecompleted'] as $column) {
            report_helper::add_report_column($id, $column);
        }
        report_helper::add_report_condition($id, 'completion:completed');
        manager::get_report_from_id($id)->set_condition_values(['completion:completed_operator' => boolean_select::CHECKED]);
        systemrole::create($id, ['roles' => [$DB->get_field('role', 'id', ['shortname' => 'badgebridgews'])]]);
        $out = ['reportid' => (int)$id];
        break;
    case 'attreport':
        if ($id = $DB->get_field('reportbuilder_report', 'id', ['name' => $o['name'], 'type' => 0])) {
            $out = ['reportid' => (int)$id];
            break;
        }
        $report = report_helper::create_report((object)['name' => $o['name'],
            'source' => \mod_attendance\reportbuilder\datasource\attendance::class], false);
        $id = $report->get('id');
        foreach (['user:fullnamewithlink', 'course:coursefullnamewithlink', 'attendance:sessiondate',
                'attendance:status', 'attendance:timetaken'] as $column) {
            report_helper::add_report_column($id, $column);
        }
        systemrole::create($id, ['roles' => [$DB->get_field('role', 'id', ['shortname' => 'badgebridgews'])]]);
        $out = ['reportid' => (int)$id];
        break;
    case 'visible':
        course_change_visibility((int)$o['courseid'], (bool)$o['visible']);
        $out = ['visible' => (int)$o['visible']];
        break;
    default:
        throw new coding_exception('unknown --op');
}
echo json_encode($out), "\n";
